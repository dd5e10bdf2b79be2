"""The report's words: both catalogues say the same things, and lists read as each language
writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from firegw.report.words import LANGUAGES, Words

CATALOG = Path(__file__).resolve().parents[2] / "firegw" / "report" / "catalog"


def keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    found = set()
    for key, value in tree.items():
        found |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return found


def test_both_catalogues_have_the_same_keys() -> None:
    chinese, english = (
        keys(json.loads((CATALOG / f"{lang}.json").read_text())) for lang in LANGUAGES
    )
    assert chinese ^ english == set()


@pytest.mark.parametrize(
    ("lang", "items", "listed"),
    [
        ("en", [], ""),
        ("en", ["critical"], "critical"),
        ("en", ["critical", "high"], "critical and high"),
        ("en", ["critical", "high", "medium"], "critical, high and medium"),
        ("zh-CN", ["紧急", "高"], "紧急、高"),
        ("zh-CN", ["紧急", "高", "中"], "紧急、高、中"),
    ],
)
def test_a_list_reads_as_the_language_writes_it(lang: str, items: list[str], listed: str) -> None:
    assert Words(lang).listing(items) == listed
