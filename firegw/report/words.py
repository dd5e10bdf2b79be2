"""The report's words in Chinese or English: its own catalogue (catalog/<lang>.json) and, for
alarm classes, priorities, events and device kinds, the guard console's, so that the report
and the screen the guards watch use the same words."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGES", "Words"]

LANGUAGES = ("zh-CN", "en")


_OWN = Path(__file__).resolve().parent / "catalog"
_CONSOLE = _OWN.parent.parent / "console" / "catalog"
"""The console's catalogues are read as files: importing the console (its web server) only
for its words would double the report's start-up time."""


@cache
def _catalog(folder: Path, lang: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / f"{lang}.json").read_text("utf-8"))
    return loaded


class Words:
    """Looks words up by dotted key (`tables.hazards_by_month`); a missing one shows its key."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"--lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}")
        self.lang = lang
        self._own = _catalog(_OWN, lang)
        self._console = _catalog(_CONSOLE, lang)

    def __call__(self, key: str, **values: object) -> str:
        found: Any = self._own
        for part in key.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        text = str(found) if isinstance(found, str) else key
        return text.format(**values) if values else text

    def listing(self, items: Sequence[str]) -> str:
        """Words joined as the language lists them: `a, b and c`; `a、b、c`."""
        if len(items) < 2:
            return "".join(items)
        return self("list.between").join(items[:-1]) + self("list.last") + items[-1]

    def console(self, section: str, key: object) -> str:
        """A word of the console's catalogue (`class`, `priority`, `event`, `kind`)."""
        return str(self._console.get(section, {}).get(str(key), key))
