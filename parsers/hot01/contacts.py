"""The return contacts: phone and fax numbers (E.164) and e-mail addresses, each number of
the kind the keyword before it names, or the keyword in brackets right after it
("22 123 45 67 (fax)"). Addresses are kept as written (a local part may be case-sensitive)."""
from __future__ import annotations

import re

from parsers.hot01.folding import _deaccent, fold
from parsers.misreadings import EMAIL_OCR, TLDS, ocr_email, valid_email
from parsers.phone import normalise_number


_EMAIL = re.compile(
    r"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+[ \t]*@[ \t]*[A-Za-z0-9\-]+(?:[ \t]*\.[ \t]*[A-Za-z0-9\-]+)+"
)
_KIND = re.compile(
    r"(?<![a-z])(?:"
    r"(?P<both>tel(?:efon)?\.?\s*(?:/|-|\+|,|i|lub)?\s*fa(?:x|ks)u?\.?|fa(?:x|ks)\.?\s*(?:/|-|\+|,|i|lub)\s*tel(?:efon)?\.?)"
    r"|(?P<fax>fa(?:x|ks)u?|telefa(?:x|ks))"
    r"|(?P<phone>tel(?:efon)?(?:\.?\s*kom(?:orkowy|\.)?)?|kom(?:orka|orkowy)?|mobile|gsm)"
    r"|(?P<mail>e-?\s?mail|mail)"
    r")(?![a-z])"
)
_KIND_AFTER = re.compile(r"\s*\(\s*(?P<word>tel(?:efon)?|fa(?:x|ks)|kom(?:orka|orkowy)?|tel\.?\s*/\s*fax)\s*\.?\s*\)")
_RUN = re.compile(r"(?<![^\W_])\(?\+?\(?[0-9OolI](?:[0-9OolI \t\-./()]*[0-9OolI])?\)?(?![^\W_])")


def _email(candidate: str) -> str | None:
    """The address with OCR's spaces around "@" and "." closed, if it is then valid.

    A dot written with spaces may only be followed by a known top-level domain at the end,
    so "jan@pcim.pl. Tel" does not swallow the next word.
    """
    local, _, domain = candidate.partition("@")
    local = local.replace(" ", "").replace("\t", "").lstrip(".-")
    pieces = re.split(r"(\s*\.\s*)", domain.strip())
    labels, spaced = pieces[0::2], [bool(s.strip(".")) for s in pieces[1::2]]
    while len(labels) >= 2:
        tld = labels[-1]
        if valid_email(local, labels) and (not spaced[len(labels) - 2] or tld.lower() in TLDS):
            return f"{local}@{'.'.join(labels)}"
        labels = labels[:-1]
    return None


def _numbers(run: str) -> list[str] | None:
    """The numbers in a run of digits and separators: the whole run, else the split into
    the fewest valid numbers (tokens without digits may be skipped)."""
    whole = normalise_number(run)
    if whole:
        return [whole]
    tokens = re.findall(r"[^\s/]+", run)
    if len(tokens) > 24:
        return None
    best: list[list[str] | None] = [[]] + [None] * len(tokens)
    for end in range(1, len(tokens) + 1):
        options: list[list[str]] = []
        previous = best[end - 1]
        if previous is not None and not any(c.isdigit() for c in tokens[end - 1]):
            options.append(previous)
        for start in range(end):
            head = best[start]
            number = normalise_number(" ".join(tokens[start:end])) if head is not None else None
            if head is not None and number:
                options.append(head + [number])
        best[end] = min(options, key=len) if options else None
    return best[-1] or None


def parse_contacts(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int]:
    """(phones, faxes, e-mails, doubts) from the contact lines; doubts count runs of digits
    that are no number and addresses repaired from OCR misreadings: reasons to check."""
    phones: dict[str, None] = {}
    faxes: dict[str, None] = {}
    emails: dict[str, None] = {}
    failed, repaired, carry = 0, 0, "phone"
    for line in text.splitlines():
        for m in _EMAIL.finditer(line):
            address = _email(m.group())
            if address:
                emails.setdefault(address, None)
                end = m.start() + _written_length(m.group(), address)
                line = line[: m.start()] + " " * (end - m.start()) + line[end:]
        for m in EMAIL_OCR.finditer(_deaccent(line)):
            address = ocr_email(m.group())
            if address:
                emails.setdefault(address, None)
                line = line[: m.start()] + " " * (m.end() - m.start()) + line[m.end():]
                repaired += 1
        bad, carry = _numbers_of_line(line, carry, phones, faxes)
        failed += bad
    return tuple(phones), tuple(faxes), tuple(emails), failed + repaired


def _written_length(written: str, address: str) -> int:
    """How much of `written` (with OCR's spaces, and the dots `_email` dropped) spells `address`."""
    local = written.partition("@")[0]
    target, count = len(address) + len(local) - len(local.lstrip(".-")), 0
    for i, c in enumerate(written):
        count += not c.isspace()
        if count == target:
            return i + 1
    return len(written)


def _numbers_of_line(line: str, carry: str, phones: dict[str, None], faxes: dict[str, None]) -> tuple[int, str]:
    """Numbers on one line, each of the kind named by the last keyword before it; a keyword
    that ends the line ("fax:") names the numbers of the next line."""
    folded = fold(line)
    events = [(m.start(), "kw", m) for m in _KIND.finditer(folded)]
    events += [(m.start(), "run", m) for m in _RUN.finditer(line)]
    kind, failed, dangling = carry, 0, carry != "phone"
    for _, what, m in sorted(events, key=lambda e: e[0]):
        if what == "kw":
            kind, dangling = ("phone" if m.lastgroup == "mail" else str(m.lastgroup)), True
            continue
        run = m.group()
        if sum(c.isdigit() for c in run) < 6:
            continue
        numbers = _numbers(run)
        if not numbers:
            failed += 1
            continue
        dangling = False
        this = _kind_after(folded, m.end()) or kind
        for number in numbers:
            if this in ("phone", "both"):
                phones.setdefault(number, None)
            if this in ("fax", "both"):
                faxes.setdefault(number, None)
    return failed, kind if dangling else "phone"


def _kind_after(folded: str, end: int) -> str | None:
    """The kind named in brackets right after a number: "22 123 45 67 (fax)"."""
    m = _KIND_AFTER.match(folded, end)
    if m is None:
        return None
    word = m["word"]
    return "both" if "/" in word else "fax" if word.startswith("fa") else "phone"
