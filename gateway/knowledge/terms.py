"""The index terms of a text: what a question and a documentation section are compared by.

Polish inflects ("wpłaty", "wpłatę", "wpłacić") and a faxed question loses its diacritics
and misreads a letter ("wplate", "wpIate"). Measured on tests/knowledge_set.py (see
bench/kb_bench.py and the README): folding diacritics is what matters most, then cutting
the inflection off; a dictionary lemmatiser (morfeusz2) or a trained stemmer (pystempel)
fails on the folded, misread words a fax brings, so a term is the folded word without its
Polish ending, cut to a fixed prefix. Pure text: no database.
"""
from __future__ import annotations

import re
from collections import Counter

from parsers.hot01.folding import fold

PREFIX = 6  # letters kept: "konfiguracja"/"konfiguracji"/"konfigurować" -> "konfig"
MIN_STEM = 3
# Endings of Polish nouns, adjectives and verbs, folded, longest first.
_ENDINGS = tuple(sorted("""
    owania owanie owaniu owaniem owac owal owala owali owany owana owane owanej
    ania anie aniu aniem enia enie eniu eniem
    ami ach owi ego emu ymi imi ych ich iej ami ach
    om em ie ow ej ym im ac ic yc ec al ala ali alo il ila ili
    uje ujesz ujemy ujecie uja
    a e i o u y
""".split(), key=len, reverse=True))
_WORD = re.compile(r"[a-z0-9]+")
# OCR's misreadings inside a word, before lower-casing: a capital I or a "1"/"|" between
# small letters is an "l", a "0" between letters an "o".
_OCR_L = re.compile(r"(?<=[a-ząćęłńóśźż])[I1|](?=[a-ząćęłńóśźż])")
_OCR_O = re.compile(r"(?<=[a-ząćęłńóśźż])0(?=[a-ząćęłńóśźż])", re.IGNORECASE)
STOPWORDS = frozenset("""
    a aby ale bo by czy dla do gdzie i ich jak jaki jakie jest jeden jego jej juz
    ktora ktore ktory kiedy lub ma mi moze na nie nim o od oraz po pod przez przy sa
    sie ta tak te tego to tu w we z za ze co czego nam nas jesli albo jako tym tej ten
""".split())


def stem(word: str) -> str:
    """A folded word without its Polish ending, cut to `PREFIX` letters."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            word = word[: -len(ending)]
            break
    return word[:PREFIX]


def words(text: str) -> list[str]:
    """The folded words of a text, OCR's letter-for-letter misreadings put right."""
    repaired = _OCR_O.sub("o", _OCR_L.sub("l", text))
    return [w for w in _WORD.findall(fold(repaired)) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def terms(text: str) -> list[str]:
    """The index terms of a text, in order, repeats kept (their counts weigh in BM25)."""
    return [stem(w) for w in words(text)]


def counts(text: str) -> Counter[str]:
    return Counter(terms(text))
