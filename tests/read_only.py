"""Run a command with a folder it cannot write: a real read-only bind mount where this
machine allows one (``unshare``), else writes refused with "Permission denied" by a
``sitecustomize`` (tests run as root, where ``chmod`` stops nothing)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SITE = """
import builtins, errno, io, os

_ROOT = os.environ["FEMO_TEST_UNWRITABLE"]


def _under(path):
    try:
        p = os.path.abspath(os.fsdecode(path))
    except TypeError:
        return False
    return p == _ROOT or p.startswith(_ROOT + os.sep)


def _refuse(path):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))


def _guard(fn, writes):
    def guarded(path, *args, **kwargs):
        if _under(path) and writes(*args, **kwargs):
            _refuse(path)
        return fn(path, *args, **kwargs)
    return guarded


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
os.mkdir = _guard(os.mkdir, lambda *a, **k: True)
os.open = _guard(os.open, lambda flags, *a, **k: bool(flags & _WRITE_FLAGS))
os.replace = _guard(os.replace, lambda *a, **k: True)
os.rename = _guard(os.rename, lambda *a, **k: True)
os.unlink = _guard(os.unlink, lambda *a, **k: True)
_open = io.open
builtins.open = io.open = _guard(
    _open, lambda mode="r", *a, **k: any(c in mode for c in "wax+")
)
_access = os.access
os.access = lambda path, mode, **k: (
    False if _under(path) and mode & os.W_OK else _access(path, mode, **k)
)
"""


MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'


@functools.cache
def can_mount() -> bool:
    """Whether this machine lets a command see a folder through a read-only bind mount."""
    if os.environ.get("FEMO_TEST_NO_MOUNT") or shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        probe = ["unshare", "-rm", "sh", "-c", MOUNT, folder, "true"]
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0


def unwritable(
    folder: Path, argv: list[str], env: dict[str, str], site_dir: Path
) -> tuple[list[str], dict[str, str], str]:
    """``argv`` and ``env`` to run with ``folder`` unwritable, and the reason writes get."""
    if can_mount():
        command = ["unshare", "-rm", "sh", "-c", MOUNT, str(folder), *argv]
        return command, env, "Read-only file system"
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / "sitecustomize.py").write_text(SITE, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(site_dir), env.get("PYTHONPATH")) if p)
    return argv, dict(env, PYTHONPATH=path, FEMO_TEST_UNWRITABLE=str(folder)), "Permission denied"
