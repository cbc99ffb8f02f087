"""Phone and fax numbers as people write them on forms -> E.164 ("+48221234567").

Hand-written rather than the `phonenumbers` package: the rules we need are few (Polish
numbers have 9 national digits and no area-code ambiguity since 2005; anything foreign
must carry its country code) and the OCR repairs ("O" for 0, "l" for 1) are ours anyway.
"""
from __future__ import annotations

import re

from parsers.misreadings import AS_DIGIT

POLAND = "48"
_SEPARATORS = re.compile(r"[\s\-./()\u2010-\u2015]+")
_TRUNK_IN_PARENS = re.compile(r"\(\s*0\s*\)")  # "+48 (0) 22 ...", "+44 (0)20 ..."
_GROUP = re.compile(r"^[0-9OolI]+$")
_ALLOWED = re.compile(r"^[0-9OolI\s\-./()+\u2010-\u2015]+$")
MIN_FOREIGN, MAX_E164 = 7, 15  # digits after "+", country code included

# The Polish numbering plan (UKE, Plan numeracji krajowej): nine-digit numbers whose first
# two digits are either one of the 49 geographic zones or a mobile range. Left out on
# purpose: premium rate (70x), freephone and shared cost (80x), nomadic VoIP (39, 64),
# state and service numbers (47), short codes and everything abroad.
POLISH_GEOGRAPHIC_ZONES = (
    "12", "13", "14", "15", "16", "17", "18",  # Kraków, Krosno, Tarnów, Tarnobrzeg, Przemyśl, Rzeszów, Nowy Sącz
    "22", "23", "24", "25", "29",  # Warszawa, Ciechanów, Płock, Siedlce, Ostrołęka
    "32", "33", "34",  # Katowice, Bielsko-Biała, Częstochowa
    "41", "42", "43", "44", "46", "48",  # Kielce, Łódź, Sieradz, Piotrków Tryb., Skierniewice, Radom
    "52", "54", "55", "56", "58", "59",  # Bydgoszcz, Włocławek, Elbląg, Toruń, Gdańsk, Słupsk
    "61", "62", "63", "65", "67", "68",  # Poznań, Kalisz, Konin, Leszno, Piła, Zielona Góra
    "71", "74", "75", "76", "77",  # Wrocław, Wałbrzych, Jelenia Góra, Legnica, Opole
    "81", "82", "83", "84", "85", "86", "87", "89",  # Lublin, Chełm, Biała Podl., Zamość, Białystok, Łomża, Suwałki, Olsztyn
    "91", "94", "95",  # Szczecin, Koszalin, Gorzów Wlkp.
)  # fmt: skip
POLISH_MOBILE_RANGES = ("45", "50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88")
POLISH_GEOGRAPHIC_AND_MOBILE = tuple(f"+{POLAND}{p}" for p in (*POLISH_GEOGRAPHIC_ZONES, *POLISH_MOBILE_RANGES))


def normalise_number(raw: str) -> str | None:
    """E.164 for a Polish or international number as written, else None.

    OCR letters (O/o for 0, l/I for 1) are accepted only inside a group that also has
    digits, and only because the repaired number is then valid: the result is
    validated after the repair, so a word never becomes a number.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not text or len(text) > 40 or not _ALLOWED.match(text):
        return None
    international = text.lstrip("( ").startswith("+")
    if international:
        text = _TRUNK_IN_PARENS.sub(" ", text.replace("+", " ", 1))
    if "+" in text:
        return None
    groups = [g for g in _SEPARATORS.split(text) if g]
    if not groups or not all(_GROUP.match(g) and any(c.isdigit() for c in g) for g in groups):
        return None
    digits = "".join(groups).translate(AS_DIGIT)
    return _e164(digits, international)


def _e164(digits: str, international: bool) -> str | None:
    """Classify a bare digit string: international (after "+" or "00") or Polish national."""
    if not international and digits.startswith("00"):
        digits, international = digits[2:], True
    if international:
        if digits.startswith(POLAND):
            return _polish(digits[len(POLAND):])
        if digits[:1] in ("", "0") or not MIN_FOREIGN <= len(digits) <= MAX_E164:
            return None
        return "+" + digits
    return _polish(digits)


def _polish(national: str) -> str | None:
    """9 national digits (an old trunk "0" in front is dropped); never starting with 0."""
    if len(national) == 10 and national.startswith("0"):
        national = national[1:]
    if len(national) != 9 or national.startswith("0"):
        return None
    return "+" + POLAND + national
