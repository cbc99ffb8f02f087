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
# A number as gateways write it: "+48 22 555 12 34", "(022) 555-12-34", "+48 (0) 22...",
# "0049.211.5800". A group joins only after one separator, and not when it is what comes
# after the number: a page count ("(1 page)", " 2 str.", " - 3 pages" and "[Page 1/2]"
# stop at their bracket, dash or double space already), a date or a time.
_AFTER = (r"\d+[ \t]*(?:pages?|page\(s\)|p\.|seiten?|s\.|str\b|stron|strony|strona|Bl\.)"
          r"|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}")
NUMBER = (rf"(?P<number>\+?(?:\(\d{{1,4}}\) ?)?\d+(?:(?:[ .\-/]| ?\(\d{{1,4}}\) ?)(?!{_AFTER})\d+)*)"
          r"(?![\d:])")
_FAX = r"(?:tele)?(?:fax|faks|facsimile)(?:-?nachricht|-?message)?"
DEFAULT_PATTERNS = (
    # "Fax from ...", "New fax from: ...", "facsimile received from ...", "Fax von ...",
    # "Faks od ...", "Faks z numeru ...", 'eFax message from "..."', "Fax de ..."
    rf'(?im)^subject:.*?{_FAX}\b[^:\n]*?\b(?:from|od|von|de|z(?:\s+numeru)?)\s*:?\s*["\'<]?\s*{NUMBER}',
    rf"(?im)^x-fax-(?:from|sender|caller-?id|csid|remote-?id|remote-?station):\s*{NUMBER}",
    rf"(?im)^(?:caller[ -]?id|csid|tsid|sender|remote (?:id|station)|from fax|fax from|"
    rf"numer (?:faksu )?nadawcy|nadawca|absender)\s*:?\s*{NUMBER}",
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
