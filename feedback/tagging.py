"""Keyword rules that tag survey comments: pure functions, no database.

A keyword matches a comment when it appears as whole words, ignoring case and punctuation:
"export" matches "Export is slow!" and "the CSV-export" but not "exporting"; the phrase
"too slow" matches "Way too slow." A rule matches when any of its keywords does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

# Anything that is not a letter or a digit separates words ("_" too, as \w keeps it).
_SEPARATORS = re.compile(r"[\W_]+")


class KeywordRule(NamedTuple):
    """A tag and its keywords, each normalised by text_normalise (so " too slow ")."""

    tag_id: int
    keywords: tuple[str, ...]


def text_normalise(text: str) -> str:
    """Lower-cased words separated by single spaces, padded with one space on each side."""
    words = _SEPARATORS.sub(" ", text.casefold()).split()
    return f" {' '.join(words)} " if words else ""


def keywords_parse(text: str) -> list[str]:
    """The comma-separated keywords of a rule, trimmed, without blanks or repeats."""
    seen: dict[str, None] = {}
    for part in text.split(","):
        keyword = " ".join(part.split())
        if keyword and text_normalise(keyword) and keyword.casefold() not in seen:
            seen[keyword.casefold()] = None
    return list(seen)


def keyword_rule(tag_id: int, keywords_text: str) -> KeywordRule:
    """A rule ready for matching: its keywords normalised once, not once per comment."""
    return KeywordRule(tag_id, tuple(text_normalise(k) for k in keywords_parse(keywords_text)))


def keyword_matches(comment: str, keyword: str) -> bool:
    """Whether `keyword` occurs in `comment` as whole words, ignoring case and punctuation."""
    needle = text_normalise(keyword)
    return bool(needle) and needle in text_normalise(comment)


def tags_matching(comment: str, rules: Iterable[KeywordRule]) -> set[int]:
    """The ids of the tags whose rules (built by keyword_rule) match the comment."""
    text = text_normalise(comment)
    if not text:
        return set()
    return {rule.tag_id for rule in rules if any(needle in text for needle in rule.keywords)}
