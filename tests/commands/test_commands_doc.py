"""docs/commands.md documents every management command djag ships."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NUMBERS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]


def test_every_shipped_command_has_a_row_and_a_section() -> None:
    shipped = {
        path.stem
        for path in (REPO / "djag" / "management" / "commands").glob("*.py")
        if path.stem != "__init__"
    }
    page = (REPO / "docs" / "commands.md").read_text()
    rows = set(re.findall(r"^\| \[`(\w+)`\]\(#\1\) \|", page, flags=re.MULTILINE))
    sections = set(re.findall(r"^## (\w+)$", page, flags=re.MULTILINE))
    assert shipped == rows
    assert shipped == sections
    count = re.search(r"djag adds (\w+) management commands", page)
    assert count is not None
    assert NUMBERS.index(count.group(1)) == len(shipped)
