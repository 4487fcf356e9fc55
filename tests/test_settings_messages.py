"""A new user's settings and messages (issue 37, "Settings and messages"): each mistake is
one ``femo: error:`` line that names what is right, and nothing is left behind."""

from __future__ import annotations

import re


def test_run_help_lists_only_options_one_can_choose(fast_femo):
    """``base`` (the dataclass defaults each option composes on) was listed for dataset,
    identity, mapping, reduce and sampling, and ``mapping=base`` was then refused."""
    proc = fast_femo("run", "--help")
    assert proc.returncode == 0, proc.stderr
    groups = dict(re.findall(r"^(\w+): (.+)$", proc.stdout.split("== Config ==")[0], re.M))
    assert groups["mapping"] == "seven, three_class"
    assert groups["sampling"] == "every_n, fps"
    assert groups["reduce"] == "first, largest, main, person"
    assert groups["dataset"] == "folder"
    assert not [g for g, options in groups.items() if "base" in options.split(", ")]
