"""When a comment mentions a theme: the one rule, as a regular expression (plain Python, no Ibis,
so the dashboard can find a theme's comments in the snapshot with the very rule the mart used).

A phrase matches case-insensitively where no letter or digit stands directly before or after it:
"slow" matches "Support is slow." but not "slowly"; "onboarding" matches "Onboarding-docs"
(DESIGN.md "Comment themes"). Letters and digits are Unicode (`\\p{L}`, `\\p{N}`), which RE2
(DuckDB) and Java (Spark) both read the same way.
"""

from __future__ import annotations

import string

_EDGE = r"[^\p{L}\p{N}]"  # anything but a Unicode letter or digit
_SPECIAL = frozenset(string.punctuation)


def _escaped(phrase: str) -> str:
    """The phrase as a literal: each ASCII punctuation mark escaped (RE2 and Java both read a
    backslash before punctuation as the mark itself; other characters stand for themselves)."""
    return "".join(f"\\{c}" if c in _SPECIAL else c for c in phrase)


def theme_pattern(phrases: list[str]) -> str:
    """The regex that finds any of `phrases` as whole words in LOWER-CASED text.

    Case is ignored by lower-casing both the text and the phrases, rather than with `(?i)`, whose
    reach beyond ASCII differs between the engines; `lower()` is Unicode on both.
    """
    alternatives = "|".join(_escaped(p.strip().lower()) for p in phrases)
    return f"(^|{_EDGE})({alternatives})($|{_EDGE})"
