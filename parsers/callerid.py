"""The sender's fax number (caller id / CSID) from a fax gateway's e-mail.

Gateways put it in the subject ("Fax from +48221234568"), in X-Fax-* headers, or in a
body line; the patterns are configurable, each with a named group `number`.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from parsers.mime import ParsedMessage
from parsers.phone import normalise_number

BODY_LINES = 30  # gateways put their metadata at the top
DEFAULT_PATTERNS = (
    r"(?im)^subject:.*?\b(?:fax|faks)\s+(?:from|od|z)\s*:?\s*(?P<number>\+?[\d][\d ()/.-]{5,}\d)",
    r"(?im)^x-fax-(?:from|sender|caller-?id|csid|remote-?id|remote-?station):\s*(?P<number>\+?[\d][\d ()/.-]{5,}\d)",
    r"(?im)^(?:caller[ -]?id|csid|remote (?:id|station)|from fax|numer (?:faksu )?nadawcy|nadawca)\s*:?\s*(?P<number>\+?[\d][\d ()/.-]{5,}\d)",
)


def caller_id(msg: ParsedMessage, patterns: Sequence[re.Pattern[str]]) -> str | None:
    """The first pattern match that normalises to a valid number, in E.164."""
    haystack = "\n".join(
        [*(f"{name}: {value}" for name, value in msg.headers), *msg.text.splitlines()[:BODY_LINES]]
    )
    for pattern in patterns:
        for match in pattern.finditer(haystack):
            if number := normalise_number(match.group("number")):
                return number
    return None


def compile_patterns(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)
