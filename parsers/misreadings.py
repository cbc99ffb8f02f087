"""OCR's misreadings with one sure reading, put right: what fax-resolution tesseract makes of
an e-mail address, a case sign, a capital, a digit, a Polish letter. One place for them
all: `parsers.ocr` repairs each word as it is read, `parsers.hot01` each field's value.

Pure text: no image, no tesseract (the word lists come in as containers of words).
"""
from __future__ import annotations

import itertools
import math
import re
from typing import Protocol


class WordList(Protocol):
    """A language's words (`parsers.ocr.lexicon.Lexicon`: tesseract's own list)."""

    def __contains__(self, word: str, /) -> bool: ...


# --------------------------------------------------------------------------- words as read
def repair_word(word: str, lexicon: WordList | None = None) -> str:
    """Misreadings with one sure reading in this domain: e-mail addresses, "BeSTi@", the
    letters of a case sign ("$0.2345.1.2026" -> "SO.2345.1.2026"), a comma among dotted
    digits ("RG.2438,47.2026"); with a `lexicon`, a word one misread letter from a word
    of the language ("wpłalę" -> "wpłatę")."""
    if lexicon is not None:
        word = correct(word, lexicon)
    word = _BESTIA.sub("BeSTi@", repair_email(word))
    sign = _SIGN.match(word)
    if sign and re.search(r"[A-Z$]", sign[1]):
        word = sign[1].replace("0", "O").replace("$", "S") + word[sign.end():]
    if _DOTTED.search(word) and _COMMA.search(word):
        word = _COMMA.sub(".", word)
    return word


# BeSTi@, the finance ministry's budget reporting system the offices ask about, has the
# same "@" the Polish model cannot read.
_BESTIA = re.compile(r"^BeST[iIl1|](?:[QG][©@®]?|[©@®])(?=\W|$)")
# A case sign (znak) starts with a department's letters: "SO.", "OR-", "BRM/". Read as
# "$0." or "0R." (a letter or "$" in the prefix, digits after it) it is put right.
_SIGN = re.compile(r"^([A-Z0$]{1,4})(?=[.\-/]\d)")
_DOTTED = re.compile(r"\d\.\d")
_COMMA = re.compile(r"(?<=\d),(?=\d)")


def join_split_emails(words: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """An e-mail address OCR split in two at its "@" ("e.kowalskaQ© belchatow.gov.pl") or
    after the initial ("w. mazur@olsztyn.gov.pl") is one word again, when the joined word
    is an address (`repair_email`); the pair's confidence is the lower one."""
    out: list[tuple[str, float]] = []
    for word, conf in words:
        if out and _splits_email(out[-1][0], word):
            out[-1] = (out[-1][0] + word, min(out[-1][1], conf))
        else:
            out.append((word, conf))
    return out


_AT_AT_END = re.compile(r"(?:[QGB]?[QGD]?[©@®]|[QG][QGD]?)$")
_DOMAIN_WORD = re.compile(r"^[a-ząćęłńóśźż0-9][a-ząćęłńóśźż0-9-]*(?:\.[a-ząćęłńóśźż0-9-]+)+[,;.]?$")
_LETTER_DOT = re.compile(r"^[A-Za-z]\.$")


def _splits_email(first: str, second: str) -> bool:
    if "@" not in repair_email(first + second):
        return False
    return bool(_AT_AT_END.search(first) and _DOMAIN_WORD.match(second)) or bool(_LETTER_DOT.match(first))


# The Polish model has no "@" glyph, and pol+eng sometimes keeps its reading of one: "©",
# "Q", "G", "Q©", "(Q"... An e-mail-shaped word (a local part, such a separator, a dotted
# domain ending in 2-6 letters) gets its "@" back. Inside such a word the usual misreadings
# of "l" go too: "|", "!", "]", "ł" ("gov.p!", "|.nowak", "1.baran" for "l.baran"), and
# the Polish letters the model puts into ASCII names ("s.żolkiewski", "góv.pl"). No address
# holds a "(": one between the local part and the domain is the "@" ("(W", "(QO", "(Ó").
_PL = "ąćęńóśźż"
_EMAIL = re.compile(
    rf"^(?P<lead>[(<\[]?)(?P<local>[A-Za-z0-9|!ł{_PL}][A-Za-z0-9._%+ł{_PL}-]*?)"
    r"(?P<sep>\(?(?:[QGB]?[QGD]?[©@®]O?|[QG][QGD]?)\)?|\([OD0]\)?|\([A-ZÓ©]{1,2}\)?)"
    rf"(?P<domain>[a-z0-9ł{_PL}][a-z0-9ł{_PL}-]*(?:[.,][a-z0-9ł{_PL}-]+)*\.[a-zł{_PL}!|\]I]{{2,6}})(?P<tail>[,;:.)>\]]?)$"
)
_INITIAL = re.compile(r"^[|!I1]\.")  # "l." read as "|.", "I.", "1."


def repair_email(word: str) -> str:
    """`|.kowalskiQ©urzad.gov.p!` -> `l.kowalski@urzad.gov.pl`; other words unchanged."""
    m = _EMAIL.match(word)
    if not m:
        return word
    local = _INITIAL.sub("l.", m["local"]).translate(_AS_L_LOCAL)
    domain = _QOV.sub("gov", m["domain"].translate(_AS_L).replace(",", "."))
    repaired = f"{m['lead']}{local}@{domain}{m['tail']}"
    return repaired if repaired != word else word


_ASCII = {"ą": "a", "ć": "c", "ę": "e", "ń": "n", "ó": "o", "ś": "s", "ź": "z", "ż": "z", "ł": "l"}
# A comma between domain labels is a dot ("gniezno,gov.pl"); Polish has no "q", and the
# offices' domain is "gov.pl": "qov" is a misread "gov".
_QOV = re.compile(r"(?<![a-z0-9-])qov(?=\.)")
_AS_L_LOCAL = str.maketrans({"!": "l", "|": "l", **_ASCII})
_AS_L = str.maketrans({"!": "l", "|": "l", "]": "l", "I": "l", **_ASCII})


# --------------------------------------------------------------------------- addresses in a field
_LOCAL = re.compile(r"^[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?$")
TLDS = frozenset("pl com eu net org info biz gov edu de uk cz sk ua lt lv by fr it es nl at ch be se no dk fi us io".split())


def valid_email(local: str, labels: list[str]) -> bool:
    """Is `local`@`labels` (the domain's labels) an address: a plain local part, host-name
    labels, a top-level domain of letters."""
    if not local or len(local) > 64 or not _LOCAL.match(local):
        return False
    if not all(_DOMAIN_LABEL.match(lb) for lb in labels):
        return False
    return bool(re.fullmatch(r"[A-Za-z]{2,24}", labels[-1])) and len(local) + sum(map(len, labels)) < 250


_AT_OCR = r"\(\s*(?:at|a|@|Q|\?)?\s*\)?|[QO]?[©®]|&"
EMAIL_OCR = re.compile(rf"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+(?:{_AT_OCR}|@)?[A-Za-z0-9._%+\-]*(?:[.:,][A-Za-z0-9\-]+)+")
_AT_LOOKALIKE = re.compile(rf"{_AT_OCR}|(?<=[a-z0-9._-])[QG](?=[a-z0-9])")


def ocr_email(token: str) -> str | None:
    """An address OCR garbled in the ways faxes garble it: "@" read as "Q", "G", "©",
    "Q©" or "(a)", a "." in the domain read as ":" or ",". Taken only when exactly one
    reading is valid and ends in a known top-level domain."""
    token = token.rstrip(".,:;-")
    if "@" in token:
        readings = [token]
    else:
        readings = [token[: m.start()] + "@" + token[m.end():] for m in _AT_LOOKALIKE.finditer(token)]
    valid = set()
    for reading in readings:
        local, _, domain = reading.partition("@")
        labels = re.split(r"[.:,]", domain.lower())
        if labels[-1] in TLDS and valid_email(local, labels):
            valid.add(f"{local}@{'.'.join(labels)}")
    return valid.pop() if len(valid) == 1 else None


# --------------------------------------------------------------------------- case signs
# A case sign (znak sprawy) starts with the department's symbol, which is letters
# ("SO.5565.41.2026", "BRM.8040.49.2026", "ZP-8/179/26"). OCR reads some of them as the
# digits they resemble ("50.", "3RM.", "$0-") or drops the dot after them ("ZP9972.17.2026").
_SIGN_SYMBOL = re.compile(r"^(?P<symbol>[A-Z0-9$]{1,4})(?P<rest>[.\-/]\d+(?:[.\-/]\d+)*[.\-/](?:\d{4}|\d{2}))$")
_SIGN_NO_DOT = re.compile(r"^(?P<symbol>[A-Z]{1,4})(?P<rest>\d{3,4}(?:\.\d+)+\.(?:\d{4}|\d{2}))$")
_AS_LETTER = str.maketrans({"0": "O", "1": "I", "2": "Z", "3": "B", "5": "S", "6": "G", "8": "B", "$": "S"})
# A department's section in Roman numerals ("GK-II.6840.12.2026") read with a digit or a
# small "l" in it ("GK-I1.", "GK-ll.", "GK-I!."): letters in the group say it is Roman.
_SIGN_ROMAN = re.compile(r"^(?P<symbol>[A-Z]{1,4}-)(?P<roman>[IVXl1|!]{1,4})(?P<rest>\.\d+(?:[.\-/]\d+)*)$")
_AS_ROMAN = str.maketrans({"1": "I", "l": "I", "|": "I", "!": "I"})


def repair_sign(value: str) -> str:
    """OCR's misreadings of a case sign put right: marks before it ("„KP.6800", "'SO-8"),
    digits in the department's symbol, a Roman section read with a "1" or "l", a dot lost
    after the symbol. Only whole signs of the usual shape (symbol, numbers, a year at
    the end) are touched."""
    value = re.sub(r"^[^\w$]+(?=[\w$])", "", value)
    if (m := _SIGN_ROMAN.match(value)) and not m["roman"].isdigit():
        return f"{m['symbol']}{m['roman'].translate(_AS_ROMAN)}{m['rest']}"
    if m := _SIGN_NO_DOT.match(value):
        return f"{m['symbol']}.{m['rest']}"
    m = _SIGN_SYMBOL.match(value)
    if m is None:
        return value
    symbol = m["symbol"].translate(_AS_LETTER)
    return symbol + m["rest"] if symbol.isalpha() and symbol.isupper() else value


# --------------------------------------------------------------------------- office names
# The words public offices are named with. The Polish word list knows OCR's slips of them
# too ("powiatówe"), so it cannot tell; in an office's name one of these words read with
# a Polish letter added or lost, or "m" read as "rn" ("Pórnocy"), is that word.
OFFICE_WORDS = (
    "Urząd", "Urzędu", "Gminy", "Miasta", "Miejski", "Gminny", "Starostwo", "Powiatowe", "Powiatowy", "Ośrodek",
    "Pomocy", "Społecznej", "Skarbowy", "Pracy", "Wojewódzki", "Marszałkowski", "Województwa", "Zakład",
    "Komunalny", "Gospodarki", "Komunalnej", "Usług", "Wspólnych", "Centrum", "Zespół", "Szkół", "Oświaty",
    "Referat", "Wydział", "Finansowy", "Podatków", "Opłat", "Biuro", "Rady",
)  # fmt: skip
_PLAIN = str.maketrans(_ASCII)
_OFFICE_KEYS = {w.lower().translate(_PLAIN): w for w in OFFICE_WORDS}


def repair_office(value: str) -> str:
    """Each word of an office's name that is an office word but for its Polish letters or
    an "rn" for "m" ("Powiatówe", "Pórnocy") written as that word."""
    return re.sub(r"[^\W\d_]+", lambda m: _office_word(m[0]), value)


def _office_word(word: str) -> str:
    for part in {word, word.replace("rn", "m")}:
        known = _OFFICE_KEYS.get(part.lower().translate(_PLAIN))
        if known is not None:
            return known.upper() if word.isupper() else known
    return word


# --------------------------------------------------------------------------- capitals and digits
_SENTENCE_END = re.compile(r"(?:[^\W\d_]{4,}\.|[?!])$")  # not after "r.", "np.", "tel."


def sentence_starts(lines: list[str]) -> list[str]:
    """OCR: a line that starts a sentence (the question's first, or after one ending in
    "?", "!" or "." after a word of 4+ letters, not an abbreviation) starts with a
    capital; a small letter there that looks like its capital (CASE_ALIKE) is misread."""
    out: list[str] = []
    starts = True
    for line in lines:
        words = line.split(" ", 1)
        if starts and words[0]:
            words[0] = _capitalised(words[0].rstrip(",.?!:;")) + words[0][len(words[0].rstrip(",.?!:;")):]
        out.append(" ".join(words))
        starts = not line or bool(_SENTENCE_END.search(line))
    return out


# Letters whose capital is the small letter drawn bigger: OCR tells them apart only by
# height, and gets it wrong at fax resolution ("wojciech", "łukasz", "Jolanta wójcik").
CASE_ALIKE = frozenset("cksouwzćśóżźł")


def capitalise_name(name: str) -> str:
    """Every word of a person's name starts with a capital ("józef" is OCR's misreading),
    but for the particles of foreign names ("de", "van"); a surname in "-ską" is OCR's
    ogonek on the form's "-ska" (a name on a form is in the nominative)."""
    words = (word if word in NAME_PARTICLES else _capitalised(word, _LOWER) for word in name.split())
    return " ".join(_NOMINATIVE.sub("a", word) for word in words)


NAME_PARTICLES = frozenset("da de del della der di du la le van von y".split())
_NOMINATIVE = re.compile(r"(?<=[^\W\d_]{2}[sc]k)ą(?=$|-)|(?<=[^\W\d_]{2}dzk)ą(?=$|-)")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyząćęłńóśźż")


def _capitalised(word: str, alike: frozenset[str] = CASE_ALIKE) -> str:
    """The word with a capital first letter, if that letter is in `alike` and it is a word."""
    if len(word) >= 2 and word[0] in alike and word[1:].replace("-", "").isalpha():
        return word[0].upper() + word[1:]
    return word


# Digits read as the letters they resemble: "O"/"o" for 0, "l"/"I"/"i" for 1.
AS_DIGIT = str.maketrans("OolIi", "00111")
_OCR_IN_NUMBER = re.compile(r"(?<=\d)[oli]|[oli](?=\d)")


def letters_as_digits(folded: str) -> str:
    """Folded text with the small letters next to a digit that OCR reads for digits made
    digits again ("2o26" -> "2026", "l1.11" -> "11.11")."""
    return _OCR_IN_NUMBER.sub(lambda m: m.group().translate(AS_DIGIT), folded)


# --------------------------------------------------------------------------- word list
# What fax-resolution OCR reads instead of a letter (read -> meant), from the misreadings
# on rendered forms: "wpłalę", "pylania" (t), "intormację", "teletonu" (f), "zawicra",
# "cksporcie" (e), "Jahłońska" (b), "Stawomir" (ł), "Fłk" (E), "Lermin" (t). A diacritic
# is only ever added, never taken away: the word list lacks many inflected forms
# ("zaksięgowaną"), and a read "ą" is rarely a misread "a".
MISREAD = {"l": "tł", "ł": "t", "t": "łf", "i": "l", "c": "eć", "e": "ęc", "h": "b", "b": "h", "F": "E", "L": "t",
           "a": "ą", "o": "ó", "z": "żź", "s": "ś", "n": "ń", "q": "g"}  # fmt: skip
_PLAIN_WORD = re.compile(r"^(?P<lead>[\"'„‘(]*)(?P<word>[^\W\d_]{3,})(?P<tail>[.,?!:;)]*)$")


def accented(token: str, polish: WordList, english: WordList | None) -> str:
    """A word the English model read, with the Polish letters that model cannot see put
    back: tesseract keeps reading with the language that read the last word, so after a
    sign or a number the English model reads on ("Imie i nazwisko Uzytkownika", "Bozena",
    "Urzad"). Put back only when exactly one accented form is a Polish word and the word
    as read is no English one (of several forms, the one with the fewest diacritics: the
    list has typos too, "Użytkównika"); the Polish list knows many words typed without
    diacritics, so being in it says nothing."""
    m = _PLAIN_WORD.match(token)
    if m is None or not m["word"].isascii() or m["word"].isupper() or (english is not None and _knows(english, m["word"])):
        return token
    found = [w for w in _accent_variants(m["word"]) if w in polish or (w[0].isupper() and w.lower() in polish)]
    fewest = [w for w in found if _changes(w, m["word"]) == min(_changes(f, m["word"]) for f in found)]
    return f"{m['lead']}{fewest[0]}{m['tail']}" if len(fewest) == 1 else token


def correct(token: str, words: WordList) -> str:
    """A word not in the list that becomes exactly one word of it with one letter read as
    MISREAD says; anything else (numbers, signs, capitals, names the list lacks, two or
    more candidates) unchanged."""
    m = _PLAIN_WORD.match(token)
    if m is None or m["word"].isupper() or _knows(words, m["word"]):
        return token
    word = m["word"]
    found = {word[:i] + alt + word[i + 1:] for i, ch in enumerate(word) for alt in MISREAD.get(ch, "")}
    found = {w for w in found if _knows(words, w)}
    return f"{m['lead']}{found.pop()}{m['tail']}" if len(found) == 1 else token


def _knows(words: WordList, word: str) -> bool:
    return word in words or word.lower() in words

ACCENTED = {"a": "ą", "c": "ć", "e": "ę", "l": "ł", "n": "ń", "o": "ó", "s": "ś", "z": "żź",
            "C": "Ć", "L": "Ł", "O": "Ó", "S": "Ś", "Z": "ŻŹ"}  # fmt: skip
MAX_ACCENT_TRIES = 1024


def _accent_variants(word: str) -> list[str]:
    """`word` with some letters given their Polish diacritics (not `word` itself); none
    when there would be over MAX_ACCENT_TRIES."""
    options = [c + ACCENTED.get(c, "") for c in word]
    if math.prod(len(o) for o in options) > MAX_ACCENT_TRIES:
        return []
    return ["".join(p) for p in itertools.product(*options)][1:]


def _changes(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b))
