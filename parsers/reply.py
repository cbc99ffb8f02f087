"""The new text of a consultant's reply: what they wrote now, without quoted history or signature.

Consultants answer from their mail client; whatever it adds (the quoted question, the
attribution line, an Outlook header block, a signature, "Sent from my iPhone") must not be
re-sent to the user as if it were part of the answer.

mail-parser-reply finds the attribution lines it knows ("On ... wrote:", "Dnia ...
napisał(a):", "-----Original Message-----", in every language passed in). Measured on the
clients we see, it misses or mangles the rest, so these rules are added on top:

1. Polish attributions: Thunderbird "W dniu ... pisze:", Gmail "pon., 23 lis 2026 o 09:12
   ... napisał(a):" (also wrapped onto two lines), Apple Mail "Wiadomość napisana przez ...
   w dniu ...:", Outlook "-----Wiadomość oryginalna-----". An attribution must start the
   way a client starts it ("On", "W dniu", "Dnia", a weekday or a date, "Wiadomość
   napisana przez") and carry a digit (the date), so "Klient napisał:" in the answer is text.
2. Outlook's header block without a separator (From/Sent/To/Subject, Od/Wysłane/Do/Temat,
   often after a line of underscores): it must begin with From/Od and hold a To/Do and a
   Subject/Temat line. The library's own block rule is not used: in Polish a single "Do:"
   or "Data:" line splits the mail, so "Od: 8:00 / Do: 16:00" in an answer would be lost.
3. Quoting: after an attribution followed by "> " lines, the consultant's unquoted lines
   are kept (inline answers between quoted lines, or an answer below the quote); each
   dropped quoted block becomes one paragraph break. A body whose first line is quoted is
   read the same way (inline answers with the attribution deleted). Without an
   attribution, only a "> " block that ends the body after a blank line is history; "> "
   lines inside or directly under the consultant's text (a menu path, a list) stay.
4. Signatures: the library cuts at the first "Pozdrawiam"/"Thanks," anywhere and at any
   "- item" line, which loses answers, so its signature cut is not used. A signature here
   is a closing block at the very end of the new text: a "-- " line (RFC 3676, also "--")
   with at most 10 lines under it; a closing phrase line ("Pozdrawiam", "Z poważaniem",
   "Best regards", "Kind regards", ...; the phrase and at most a short name) with at most
   6 short lines under it that are not prose; a "Sent from my ..."/"Wysłane z ..." line
   with at most 2 short lines under it. Blocks are cut from the end one after another,
   so "Pozdrawiam / Anna / -- / long signature" loses both.
5. Our own marker: every notification starts with a reply marker line (REPLY_MARKERS).
   Whatever the client (a German Thunderbird's "Am ... schrieb Hotline:" is known to no
   rule above), the marker, quoted or not, and all below it are history: the quoted
   notification (internal commands, review notes) never reaches the user. An unknown
   attribution line or header block directly above the marker goes with it.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from mailparser_reply import EmailReplyParser


@dataclass(frozen=True, slots=True)
class ReplyText:
    new: str  # what the consultant wrote now: no quoted history, no signature, stripped
    signature: str  # the signature cut off ("" if none)
    quoted: str  # the quoted history cut off ("" if none)


class _Kind(Enum):
    ATTRIBUTION = "attribution"  # "... wrote:", followed by "> " quoting (inline answers possible)
    PLAIN = "plain"  # Outlook separator or header block: everything after it is history


@dataclass(frozen=True, slots=True)
class _Marker:
    index: int  # first line of the history
    span: int  # lines the marker itself takes
    kind: _Kind


# --- quoted history -------------------------------------------------------------------

# The first line of every notification (gateway/outbound/compose.py puts it there, rule 5).
REPLY_MARKERS = {
    "pl": "===== Odpowiedź wpisz NAD tą linią =====",
    "en": "===== Write your answer ABOVE this line =====",
}
_OUR_MARKERS = frozenset(m.casefold() for m in REPLY_MARKERS.values())

_QUOTE_PREFIX = re.compile(r"^\s*(?:>\s?)+")
_SEPARATOR = re.compile(
    r"^-{3,}\s*(?:original message|wiadomość oryginalna|oryginalna wiadomość)\s*-{3,}$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^[_-]{10,}$")  # Outlook's line of underscores above the header block
_ATTRIBUTION_START = re.compile(
    r"^(?:on\s|w\s+dniu\s|dnia\s|wiadomość\s+napisana\s+przez\s"
    r"|(?:pon|wt|śr|sr|czw|pt|sob|niedz|nd)\.?,\s|(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,\s"
    r"|\d{1,4}[./-]\d{1,2}[./-]\d{1,4})",
    re.IGNORECASE,
)
_ATTRIBUTION_END = re.compile(
    r"(?:\bwrote|\bwrites|\bnapisał\(a\)|\bnapisał|\bnapisała|\bnapisał/a|\bpisze)\s*:$"
    r"|^wiadomość\s+napisana\s+przez\s.*:$",
    re.IGNORECASE,
)
_FIELD = re.compile(r"^\*?([^\W\d_]+)\*?\s*:", re.IGNORECASE)
_FROM_FIELDS = frozenset({"from", "od"})
_TO_FIELDS = frozenset({"to", "do"})
_SUBJECT_FIELDS = frozenset({"subject", "temat"})
_MAX_BLOCK_LINES = 8
_MAX_ATTRIBUTION = 300


def _unquoted(line: str) -> str:
    """The line without leading "> " marks (Apple Mail on iOS quotes its attribution too)."""
    return _QUOTE_PREFIX.sub("", line).strip()


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _is_attribution(text: str) -> bool:
    """A client's "On <date> <who> wrote:" line, in the forms listed in the module doc."""
    return (
        len(text) <= _MAX_ATTRIBUTION
        and _ATTRIBUTION_START.match(text) is not None
        and _ATTRIBUTION_END.search(text) is not None
        and any(ch.isdigit() for ch in text)
    )


def _attribution_at(lines: Sequence[str], i: int) -> _Marker | None:
    """An attribution on line i, or wrapped over lines i and i+1 (Gmail wraps at 78 columns)."""
    first = _unquoted(lines[i])
    if _is_attribution(first):
        return _Marker(i, 1, _Kind.ATTRIBUTION)
    if (
        i + 1 < len(lines)
        and first
        and _unquoted(lines[i + 1])
        and _is_quoted(lines[i]) == _is_quoted(lines[i + 1])
    ):
        if _is_attribution(f"{first} {_unquoted(lines[i + 1])}"):
            return _Marker(i, 2, _Kind.ATTRIBUTION)
    return None


def _field(line: str) -> str | None:
    match = _FIELD.match(_unquoted(line))
    return match.group(1).lower() if match else None


def _header_block_at(lines: Sequence[str], i: int) -> _Marker | None:
    """Outlook's From/Sent/To/Subject block (no separator line, history not quoted).

    The fields are read up to the next blank line, so a long To: line that wrapped still counts.
    """
    if _field(lines[i]) not in _FROM_FIELDS:
        return None
    fields: set[str] = set()
    for line in lines[i + 1 : i + 1 + _MAX_BLOCK_LINES]:
        if not _unquoted(line):
            break
        fields.add(_field(line) or "")
    if not (fields & _TO_FIELDS and fields & _SUBJECT_FIELDS):
        return None
    start = i - 1 if i > 0 and _RULE.match(_unquoted(lines[i - 1])) else i
    return _Marker(start, i + 1 - start, _Kind.PLAIN)


def _marker_at(lines: Sequence[str], i: int) -> _Marker | None:
    """Our own rules: a separator, an Outlook header block or an attribution starting at line i."""
    if _SEPARATOR.match(_unquoted(lines[i])):
        return _Marker(i, 1, _Kind.PLAIN)
    return _header_block_at(lines, i) or _attribution_at(lines, i)


def _library_marker(lines: Sequence[str], languages: Sequence[str]) -> _Marker | None:
    """The first attribution or separator mail-parser-reply finds.

    Its header blocks are ignored (rule 2), and so are attributions without a digit: its
    "On ... wrote:" also matches "On Monday the customer wrote:" in an answer.
    """
    message = EmailReplyParser(languages=list(languages)).read("\n".join(lines))
    for reply in message.replies:
        header = (reply.headers or "").strip()
        first = header.split("\n", 1)[0].strip()
        if not first or _field(first) is not None:
            continue
        separator = _SEPARATOR.match(_unquoted(first)) is not None
        if not separator and not any(ch.isdigit() for ch in header):
            continue
        for i, line in enumerate(lines):
            if line.strip() == first:
                kind = _Kind.PLAIN if separator else _Kind.ATTRIBUTION
                return _Marker(i, header.count("\n") + 1, kind)
    return None


def _first_marker(lines: Sequence[str], languages: Sequence[str]) -> _Marker | None:
    """The earliest start of history found by our rules or by the library."""
    ours = next((m for i in range(len(lines)) if (m := _marker_at(lines, i))), None)
    theirs = _library_marker(lines, languages)
    candidates = [m for m in (ours, theirs) if m is not None]
    return min(candidates, key=lambda m: m.index) if candidates else None


def _next_nonblank(lines: Sequence[str], start: int) -> str | None:
    return next((line for line in lines[start:] if line.strip()), None)


def _split_inline(lines: Sequence[str], start: int) -> tuple[list[str], list[str]]:
    """Keep the consultant's unquoted lines from start on; quoted lines (and later history) go.

    Each dropped run of quoted lines becomes one paragraph break between the kept answers.
    An unquoted separator, header block or attribution ends the answers: the rest is history.
    """
    kept: list[str] = []
    taken: set[int] = set()
    for i in range(start, len(lines)):
        line = lines[i]
        if _is_quoted(line):
            if kept and kept[-1] != "":
                kept.append("")
        elif line.strip() and _marker_at(lines, i):
            break
        elif line.strip() or (kept and kept[-1] != ""):
            kept.append(line)
            taken.add(i)
    quoted = [line for i, line in enumerate(lines) if i >= start and i not in taken]
    return kept, quoted


def _split_trailing_quote(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """Without an attribution, only a "> " block ending the body after a blank line is history."""
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or _is_quoted(lines[end - 1])):
        end -= 1
    start = end
    while start < len(lines) and not _is_quoted(lines[start]):
        start += 1
    if start == len(lines) or (start > 0 and lines[start - 1].strip()):
        return list(lines), []
    return list(lines[:start]), list(lines[start:])


def _split_history(lines: Sequence[str], languages: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the consultant's lines, the quoted history lines)."""
    first = _next_nonblank(lines, 0)
    if first is not None and _is_quoted(first):
        return _split_inline(lines, 0)
    marker = _first_marker(lines, languages)
    if marker is None:
        return _split_trailing_quote(lines)
    head = list(lines[: marker.index])
    after = marker.index + marker.span
    following = _next_nonblank(lines, after)
    if marker.kind is _Kind.ATTRIBUTION and following is not None and _is_quoted(following):
        kept, quoted = _split_inline(lines, after)
        if kept:
            head = _trim(head) + [""] + kept
        return head, list(lines[marker.index : after]) + quoted
    return head, list(lines[marker.index :])


def _split_at_our_marker(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the lines above our marker, the marker and all below it), rule 5."""
    at = next((i for i, line in enumerate(lines) if " ".join(_unquoted(line).split()).casefold() in _OUR_MARKERS), None)
    if at is None:
        return list(lines), []
    head = list(lines[:at])
    end = len(head)
    while end and (not head[end - 1].strip() or _is_quoted(head[end - 1])):
        end -= 1  # a blank line or a quoted start of the notification
    start = end
    while start and head[start - 1].strip() and _field(head[start - 1]) is not None:
        start -= 1  # an Outlook-style header block in a language no rule knows (Von:/An:/Betreff:)
    if end - start >= 2:
        start -= 1 if start and _RULE.match(_unquoted(head[start - 1])) else 0
    elif end and head[end - 1].rstrip().endswith(":") and any(ch.isdigit() for ch in head[end - 1]):
        start = end - 1  # an attribution no rule knows: "Am 03.12.2026 um 10:15 schrieb Hotline:"
    else:
        start = end
    return head[:start], head[start:] + list(lines[at:])


# --- signatures -----------------------------------------------------------------------

_SIG_DASH = re.compile(r"^--\s*$")
_CLOSING = re.compile(
    r"^(?:pozdrawiam(?:y)?|serdecznie\s+pozdrawiam(?:y)?|serdeczne\s+pozdrowienia|pozdrowienia"
    r"|łączę\s+pozdrowienia|z\s+pozdrowieniami|dziękuję\s+i\s+pozdrawiam|z\s+poważaniem"
    r"|z\s+powazaniem|z\s+wyrazami\s+szacunku|best\s+regards|kind\s+regards|warm\s+regards"
    r"|regards|best\s+wishes|yours\s+sincerely|sincerely)\b"
    r"(?:\s+(?:serdecznie|ciepło|gorąco|wszystkich))?"  # "Pozdrawiam serdecznie"
    r"[\s,.!;:-]*"
    r"(?-i:[A-ZĄĆĘŁŃÓŚŹŻ][\w'’-]*\.?(?:\s+[A-ZĄĆĘŁŃÓŚŹŻ][\w'’-]*\.?){0,2}[\s,.!]*)?$",  # a name
    re.IGNORECASE,
)
_SENT_FROM = re.compile(
    r"^(?:sent\s+from\s+my\s|sent\s+from\s+outlook|sent\s+from\s+mail\s+for|get\s+outlook\s+for\s"
    r"|wysłane\s+z\s|wysłano\s+z\s|pobierz\s+aplikację\s+outlook)",
    re.IGNORECASE,
)
_MAX_CLOSING_LINE = 60
_MAX_SIGNATURE_LINE = 72
_PROSE_WORDS = 8
_MAX_SIG_DASH_BLOCK = 10
_MAX_BLOCK_NONBLANK = _MAX_SIG_DASH_BLOCK + 1


def _trim(lines: Sequence[str]) -> list[str]:
    """Lines without leading and trailing blank lines."""
    kept = list(lines)
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return kept


def _is_prose(line: str) -> bool:
    """A sentence of the answer, not a name, title, phone or address line."""
    words = line.split()
    return len(words) >= _PROSE_WORDS and line.rstrip().endswith((".", "?", "!"))


def _short_block(below: Sequence[str], max_lines: int) -> bool:
    return len(below) <= max_lines and all(
        len(line) <= _MAX_SIGNATURE_LINE and not _is_prose(line) for line in below
    )


def _is_signature_start(lines: Sequence[str], i: int) -> bool:
    """Does a closing block start at line i and run to the end (see rule 4 in the module doc)?"""
    line = lines[i].strip()
    below = [rest.strip() for rest in lines[i + 1 :] if rest.strip()]
    if _SIG_DASH.match(line):
        return len(below) <= _MAX_SIG_DASH_BLOCK
    if len(line) > _MAX_CLOSING_LINE:
        return False
    if _CLOSING.match(line):
        return _short_block(below, 6)
    if _SENT_FROM.match(line):
        return _short_block(below, 2)
    return False


def _split_signature(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the text, the signature): closing blocks cut from the end, one after another.

    Only the last lines can start a block (no block has more than 11 non-blank lines),
    which keeps this linear on long answers.
    """
    text = _trim(lines)
    signature: list[str] = []
    while True:
        first = _last_lines_start(text, _MAX_BLOCK_NONBLANK)
        start = next((i for i in range(first, len(text)) if _is_signature_start(text, i)), None)
        if start is None:
            return text, signature
        signature = text[start:] + ([""] if signature else []) + signature
        text = _trim(text[:start])


def _last_lines_start(lines: Sequence[str], count: int) -> int:
    """The index from which at most ``count`` non-blank lines remain."""
    seen = 0
    for i in range(len(lines) - 1, -1, -1):
        seen += bool(lines[i].strip())
        if seen > count:
            return i + 1
    return 0


# --- entry point ----------------------------------------------------------------------


def _normalise(body: str) -> list[str]:
    """LF line ends, no trailing spaces (format=flowed and clients leave them everywhere)."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    return [line.rstrip() for line in text.split("\n")]


def new_text(body: str, languages: Sequence[str] = ("pl", "en")) -> ReplyText:
    """Split a consultant's reply body into the new text, the signature and the quoted history."""
    lines = _normalise(body)
    own, quoted = _split_history(lines, languages)
    own, ours = _split_at_our_marker(own)
    quoted = ours + quoted
    text, signature = _split_signature(own)
    return ReplyText(
        new="\n".join(text).strip(),
        signature="\n".join(signature).strip(),
        quoted="\n".join(quoted).strip(),
    )
