"""Folded text, the form labels are compared in: lower case, no diacritics, one character
per character (so an offset in the folded line is an offset in the line), and the
measures of how alike two folded keys are."""
from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache


_FOLD_EXTRA = {"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ß": "s", "ı": "i"}


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """One character, lower case, without diacritics: the same length, so offsets match."""
    if ch in _FOLD_EXTRA:
        return _FOLD_EXTRA[ch]
    base = unicodedata.normalize("NFKD", ch)[:1].lower()[:1]
    return base or ch


def _deaccent(text: str) -> str:
    """Diacritics stripped, case kept, one char per char."""
    return "".join(_deaccent_char(c) for c in text)


@lru_cache(maxsize=4096)
def _deaccent_char(ch: str) -> str:
    if ch in _FOLD_EXTRA:
        return _FOLD_EXTRA[ch].upper() if ch.isupper() else _FOLD_EXTRA[ch]
    return unicodedata.normalize("NFKD", ch)[:1] or ch


_FOLD_TABLE = {i: _fold_char(chr(i)) for i in (*range(0x250), *range(0x1E00, 0x1F00))}


def fold(text: str) -> str:
    """Lower case, diacritics stripped, one char per char (offsets stay valid); Latin
    letters by table, the rare rest one by one."""
    folded = text.translate(_FOLD_TABLE)
    if folded.isascii():
        return folded
    return "".join(c if ord(c) < 0x80 else _fold_char(c) for c in folded)


_ALNUM = re.compile(r"[a-z0-9]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _keyed(folded: str) -> tuple[str, list[int]]:
    """Letters and digits of a folded line, with the offset of each in the line."""
    offsets = [m.start() for m in _ALNUM.finditer(folded)]
    return "".join(folded[i] for i in offsets), offsets


@lru_cache(maxsize=64)
def _bigrams(key: str) -> frozenset[str]:
    return frozenset(key[i:i + 2] for i in range(len(key) - 1))


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (two rows: fine for words and for the bench's pages)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
