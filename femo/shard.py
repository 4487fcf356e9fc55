"""``python -m femo.shard RUN_DIR INDEX``: kept for array scripts written for femo 0.2;
the same as ``python -m femo.worker``."""

from __future__ import annotations

from .worker import main

if __name__ == "__main__":
    raise SystemExit(main(prog="femo.shard"))
