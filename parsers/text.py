"""Text from outside, made fit for where it goes: which control characters it may not keep,
and shortening that shows it cut. Written once for parsers and gateway alike.

Where text goes decides what must go: a header keeps no line break, a body keeps newlines
and tabs, a terminal sees escapes rather than nothing, a parsed fax keeps CR (its lines are
split later). So each caller names its set with ``control_class`` and these parameters
instead of writing a character class of its own.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

C0_AND_DEL = "\x00-\x1f\x7f"  # ASCII controls: always unsafe, bar the ones a caller keeps
C1 = "\x80-\x9f"  # Latin-1 controls: invisible, and some terminals act on them
LINE_SEPARATORS = "\u2028\u2029"  # Unicode's own line and paragraph breaks
# bidi embeddings, overrides and isolates: they reorder what is shown (a disguised subject)
BIDI_OVERRIDES = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
BIDI_MARKS = "\u200e\u200f"  # left-to-right and right-to-left marks: invisible too
BIDI_CONTROLS = frozenset(BIDI_MARKS + BIDI_OVERRIDES)
ELLIPSIS = "…"


def control_class(keep: str = "", *, c1: bool = False, separators: bool = False, extra: Iterable[str] = ()) -> str:
    """The inside of a regex character class: C0 controls and DEL but the characters in
    ``keep`` (e.g. "\\t\\n"), plus C1 controls, Unicode line separators and ``extra``
    characters (e.g. ``BIDI_CONTROLS``) when asked."""
    chars = [chr(c) for c in (*range(0x20), 0x7F) if chr(c) not in keep]
    if c1:
        chars += map(chr, range(0x80, 0xA0))
    if separators:
        chars += LINE_SEPARATORS
    chars += sorted(extra)
    return re.escape("".join(chars))


def controls(keep: str = "", *, c1: bool = False, separators: bool = False, extra: Iterable[str] = ()) -> re.Pattern[str]:
    """One character of ``control_class(...)``: ``controls("\\t\\n").sub("", text)``."""
    return re.compile(f"[{control_class(keep, c1=c1, separators=separators, extra=extra)}]")


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS
