"""parsers.hot01: the HOT-01 form's fields from OCR text, PDF text, AcroForm values and
typed e-mail bodies, with the noise each of those brings."""
from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import hot01
from parsers.hot01 import Field, Hot01Form, looks_like_form, parse_contacts, parse_date, parse_form
from parsers.hot01.form import _parse

QUESTION = (
    "Jak wygenerować zestawienie należności za wrzesień w module Księgowość?\n"
    "Po aktualizacji do wersji 4.12 program nie drukuje deklaracji."
)
CLEAN = """Zgłoszenie pytania                                   HOT-01

data: 21.11.2026
znak: OR.0123.45.2026
Imię i nazwisko Użytkownika: Jan Kowalski
Nazwa Urzędu: Urząd Gminy Brzeźnica
Zwrotny nr telefonu, faxu i/lub e-mail: tel. 22 123 45 67, fax 22 123 45 89, j.kowalski@brzeznica.gov.pl
Treść pytania
Jak wygenerować zestawienie należności za wrzesień w module Księgowość?
Po aktualizacji do wersji 4.12 program nie drukuje deklaracji.
"""
CONTACTS = "tel. 22 123 45 67, fax 22 123 45 89, j.kowalski@brzeznica.gov.pl"


def assert_clean_fields(form: Hot01Form, confidence: float = 1.0, *, contacts: str = CONTACTS) -> None:
    """The fields of CLEAN (whatever the layout), each with `confidence`."""
    assert form.is_form
    assert form.form_date == date(2026, 11, 21)
    assert form.date == Field("21.11.2026", confidence)
    assert form.reference == Field("OR.0123.45.2026", confidence)
    assert form.user_name == Field("Jan Kowalski", confidence)
    assert form.office == Field("Urząd Gminy Brzeźnica", confidence)
    assert form.contacts == Field(contacts, confidence)
    assert form.return_phones == ("+48221234567",)
    assert form.return_faxes == ("+48221234589",)
    assert form.return_emails == ("j.kowalski@brzeznica.gov.pl",)
    assert form.question == Field(QUESTION, confidence)


# --------------------------------------------------------------------------- fixtures
def test_clean_typed_form() -> None:
    assert_clean_fields(parse_form(CLEAN))


def test_ocr_word_confidence_scales_every_field() -> None:
    assert_clean_fields(parse_form(CLEAN, 80.0), 0.8)


def test_lost_diacritics() -> None:
    text = (CLEAN.replace("Zgłoszenie", "Zgloszenie").replace("Imię", "Imie").replace("Użytkownika", "Uzytkownika")
            .replace("Urzędu", "Urzedu").replace("Treść", "Tresc"))  # fmt: skip
    assert_clean_fields(parse_form(text, 90), 0.9)


def test_broken_spacing_and_colons() -> None:
    text = (CLEAN.replace("Imię i nazwisko Użytkownika:", "Imię i nazwisko Użytkow nika :")
            .replace("Nazwa Urzędu:", "N azwa Urzędu::").replace("data:", "da ta :")
            .replace("Zwrotny nr telefonu, faxu i/lub e-mail:", "Zwrotny nr tele fonu,faxu i/lub e -mail")
            .replace("Treść pytania", "Treść pyta nia:"))  # fmt: skip
    assert_clean_fields(parse_form(text))


def test_label_and_value_on_separate_lines() -> None:
    text = """Zgłoszenie pytania HOT-01
data:

21.11.2026
znak:
OR.0123.45.2026
Imię i nazwisko Użytkownika:

Jan Kowalski
Nazwa Urzędu:
Urząd Gminy Brzeźnica
Zwrotny nr telefonu, faxu i/lub e-mail:
tel. 22 123 45 67, fax 22 123 45 89, j.kowalski@brzeznica.gov.pl

Treść pytania

Jak wygenerować zestawienie należności za wrzesień w module Księgowość?
Po aktualizacji do wersji 4.12 program nie drukuje deklaracji.
"""
    assert_clean_fields(parse_form(text))


def test_fax_header_lines_on_two_pages() -> None:
    page1, _, rest = CLEAN.partition("Po aktualizacji")
    text = (f"21-11-2026 10:15  FROM +48 22 123 45 68  Page 1/2\n{page1}\n\f\n"
            f"21-11-2026 10:16  FROM +48 22 123 45 68  Page 2/2\n\nPo aktualizacji{rest}")  # fmt: skip
    form = parse_form(text, 75)
    assert_clean_fields(form, 0.75)
    assert "+48221234568" not in form.return_phones + form.return_faxes  # the sending machine


def test_other_fax_header_format_and_page_footer() -> None:
    page1, _, rest = CLEAN.partition("Po aktualizacji")
    text = (f"Nov 21 2026 10:15AM  HP LASERJET FAX  p.1\n{page1}HOT-01   str. 1/2\n\f\n"
            f"Nov 21 2026 10:15AM  HP LASERJET FAX  p.2\nPo aktualizacji{rest}")  # fmt: skip
    assert_clean_fields(parse_form(text, 100))


def test_stray_bars_leaders_and_ruled_lines() -> None:
    text = """| Zgłoszenie pytania |                     HOT-01
data: ____ 21.11.2026 ____________
znak: | OR.0123.45.2026 |
Imię i nazwisko Użytkownika: ........................ Jan Kowalski ..........
Nazwa Urzędu: | Urząd Gminy Brzeźnica |
Zwrotny nr telefonu, faxu i/lub e-mail: — tel. 22 123 45 67, fax 22 123 45 89, j.kowalski@brzeznica.gov.pl ~
Treść pytania: ____________________________________
| Jak wygenerować zestawienie należności za wrzesień w module Księgowość? |
____________________________________________________
Po aktualizacji do wersji 4.12 program nie drukuje deklaracji. |
......................................................
|
_
"""
    form = parse_form(text)
    assert_clean_fields(form)


def test_cover_sheet_before_the_form() -> None:
    cover = """21-11-2026 10:15  FROM +48 22 123 45 68  Page 1/2
FAKS
Data: 20.11.2026
Do: Centrum Wsparcia Użytkowników (hot-line)
Od: Urząd Gminy Brzeźnica, Referat Finansowy, tel. 22 999 99 99
Liczba stron (z tą stroną): 2
W załączeniu przesyłamy formularz
zgłoszenia pytania.
Prosimy o potwierdzenie otrzymania.
"""
    text = f"{cover}\n\f\n21-11-2026 10:15  FROM +48 22 123 45 68  Page 2/2\n{CLEAN}"
    assert_clean_fields(parse_form(text, 100))


def test_hot_1_code_without_the_title() -> None:
    text = CLEAN.replace("Zgłoszenie pytania", "").replace("HOT-01", "HOT-1")
    assert_clean_fields(parse_form(text))


def test_code_only_with_two_labels_is_a_form() -> None:
    form = parse_form("HOT-01\nImię i nazwisko Użytkownika: Jan Kowalski\nTreść pytania\nCzy działa?")
    assert form.is_form and form.user_name == Field("Jan Kowalski", 1.0)
    assert form.question == Field("Czy działa?", 1.0) and form.date is None and form.office is None


def test_email_body_typed_form_quoted_in_another_case() -> None:
    quoted = "\n".join(f"> {line}" if line else ">" for line in CLEAN.splitlines())
    quoted = quoted.replace("Imię i nazwisko Użytkownika", "IMIĘ I NAZWISKO UŻYTKOWNIKA")
    quoted = quoted.replace("Nazwa Urzędu", "nazwa urzędu").replace("Treść pytania", "TREŚĆ PYTANIA:")
    body = f"Dzień dobry,\nprzesyłam wypełniony formularz.\n\n{quoted}\n\n-- \nJan Kowalski\nUrząd Gminy\n"
    assert looks_like_form(body)
    assert_clean_fields(parse_form(body))


def test_email_body_with_paragraphs_keeps_one_blank_line() -> None:
    body = CLEAN.replace("\nPo aktualizacji", "\n\n\n   Po   aktualizacji")
    assert parse_form(body).question.value == QUESTION.replace("\n", "\n\n")


def test_acroform_values_in_another_order_before_the_text_layer() -> None:
    """As parsers.reading joins them: "name: value" lines, then the page's own text."""
    fields = """question: Jak wygenerować zestawienie należności za wrzesień w module Księgowość?
Po aktualizacji do wersji 4.12 program nie drukuje deklaracji.
office: Urząd Gminy Brzeźnica
user_name: Jan Kowalski
contacts: tel. 22 123 45 67, fax 22 123 45 89, j.kowalski@brzeznica.gov.pl
reference: OR.0123.45.2026
date: 21.11.2026"""
    layer = """Zgłoszenie pytania
HOT-01
data:
znak:
Imię i nazwisko Użytkownika:
Nazwa Urzędu:
Zwrotny nr telefonu, faxu i/lub e-mail:
Treść pytania"""
    assert_clean_fields(parse_form(f"{fields}\n{layer}"), 0.95)


def test_acroform_with_printed_labels_in_another_order() -> None:
    text = """Treść pytania: Jak wygenerować zestawienie należności za wrzesień w module Księgowość?
Po aktualizacji do wersji 4.12 program nie drukuje deklaracji.
Zwrotny nr telefonu, faxu i/lub e-mail: tel. 22 123 45 67, fax 22 123 45 89, j.kowalski@brzeznica.gov.pl
Nazwa Urzędu: Urząd Gminy Brzeźnica
Imię i nazwisko Użytkownika: Jan Kowalski
znak: OR.0123.45.2026
data: 21.11.2026"""
    assert_clean_fields(parse_form(text))


def test_date_and_reference_on_one_line() -> None:
    text = CLEAN.replace("data: 21.11.2026\nznak: OR.0123.45.2026", "data: 21.11.2026        znak: OR.0123.45.2026")
    assert_clean_fields(parse_form(text))


def test_office_wrapped_onto_a_second_line() -> None:
    office = "Miejski Ośrodek Pomocy Społecznej w Mińsku Mazowieckim"
    text = CLEAN.replace("Nazwa Urzędu: Urząd Gminy Brzeźnica", "Nazwa Urzędu: Miejski Ośrodek Pomocy Społecznej\nw Mińsku Mazowieckim")
    assert parse_form(text).office == Field(office, 1.0)


def test_ocr_reading_of_a_rule_is_no_second_office_line() -> None:
    text = CLEAN.replace("Urząd Gminy Brzeźnica", "Urząd Gminy Brzeźnica\n—_-__o—X7ŚŚŹŻ ŚAM MAMAMAM MAMA A MŚ A, ,,..Q_dóó")
    assert parse_form(text, 100).office == Field("Urząd Gminy Brzeźnica", 1.0)


def test_contacts_over_two_lines() -> None:
    text = CLEAN.replace(CONTACTS, "tel. 22 123 45 67, fax 22 123 45 89,\nj.kowalski@brzeznica.gov.pl")
    assert_clean_fields(parse_form(text), contacts="tel. 22 123 45 67, fax 22 123 45 89\nj.kowalski@brzeznica.gov.pl")


def test_a_page_that_is_not_a_form() -> None:
    letter = ("\n  Szanowni Państwo,\nuprzejmie prosimy o informację, kiedy zostanie wydana nowa wersja programu.\n"
              "Z poważaniem\nAnna Nowak\n")  # fmt: skip
    form = parse_form(letter, 70)
    assert form == Hot01Form(False, None, None, None, None, None, (), (), (), None, Field(letter.strip(), 0.7))
    assert not looks_like_form(letter)


def test_mentioning_the_form_does_not_make_a_form() -> None:
    text = "Nie mam formularza HOT-01, pytam więc mailem: jak zmienić hasło?"
    assert looks_like_form(text)  # cheap test says maybe
    form = parse_form(text)
    assert not form.is_form and form.question == Field(text, 1.0)


def test_ticket_numbers_are_not_the_form_code() -> None:
    assert not looks_like_form("Re: [HOT#2026-000123] Pytanie\nHOT-2026-000123 dziękuję")


def test_empty_and_blank_text() -> None:
    for text in ("", "   \n\f\n  "):
        form = parse_form(text)
        assert not form.is_form and form.question == Field("", 0.0)


def test_form_without_question_keeps_the_whole_text() -> None:
    text = CLEAN.split("Treść pytania")[0]
    form = parse_form(text)
    assert form.is_form and form.question.value == text.strip() and form.question.confidence == 0.2


# --------------------------------------------------------------------------- real OCR output
# Tesseract (pol) on forms drawn by tests/formfactory.py and sent at fax resolution, with
# the ruled lines and boxes left in: what the OCR step gives when image cleaning misses.
OCR_RULED = """| 21-11-2026 10:15 FROM +48 22 123 45 68 page 1/1 | | oma |
|... Zgłoszenie pytania | | |. HOT-01 ©
data: 26.12.2026 r. | o | a
znak: OR.7728.50.2026 | |
(._-_* Imię i nazwisko Użytkownika: Urszula Mazur - | | m
Nazwa Urzędu: Starostwo Powiatowe w Pile m sz
| Zwrotny nr telefonu, faxu i/lub e-mail: u.mazurQpila:gov.pl a z
m Treść pytania | a aa o m, - |
| - Wydruk upomnienia zawiera błędną datę doręczenia i źle wyliczone odsetki.
. _ Jak poprawić zaksięgowaną wpłatę, która trafiła na niewłaściwe konto podatnika?
"""
OCR_BOXES = """© 21-11-2026 10:15 FROM +48 22 123 45 68 Page 1/1 a | . | Ea . |
z Zgłoszenie pytania o. SE | © HOT-01
- data: | a, | oe | | |
a 19.01.2026 © e Z. | |
| znaki | 8 | | | | a ma
| | GK-1/543/26 | | | | 0 |
a Imię i nazwisko Użytkownika: | | | - | |
 . |Krzysztof Wójcik ze z p |
| | Nazwa Urzędu: | | s | e a | a | |
„| Urząd Skarbowy w Bełchatowie s a | | | |
Zwrotny nr telefonu, faxu i/lub e-mail: o. s
0 el. 74 435 19 41, fax 74 435 19 56, k.wojcikGbelchatow.gov.pl: | "a
z Treść pytania na a e SE SZ s a |
Czy da się ustawić automatyczne wysyłanie przypomnień o płatnościach e-mailem? |. | |
' «| Przy zapisie decyzji pojawia się komunikat o błędzie połączenia z bazą danych. | |
"""


def test_ocr_of_a_ruled_form_with_debris() -> None:
    form = parse_form(OCR_RULED, 80)
    assert form.is_form and form.form_date == date(2026, 12, 26)
    assert form.date == Field("26.12.2026 r.", 0.8)
    assert form.reference == Field("OR.7728.50.2026", 0.8)
    assert form.user_name == Field("Urszula Mazur", 0.8)
    assert form.office == Field("Starostwo Powiatowe w Pile", 0.8)
    assert form.return_emails == ("u.mazur@pila.gov.pl",)  # "@" read as "Q", "." as ":"
    assert form.contacts == Field("u.mazurQpila:gov.pl a z", 0.56)  # repaired: less sure
    assert form.question == Field(
        "Wydruk upomnienia zawiera błędną datę doręczenia i źle wyliczone odsetki.\n"
        "Jak poprawić zaksięgowaną wpłatę, która trafiła na niewłaściwe konto podatnika?",
        round(0.8 * 24 / 25, 3),  # "m Treść pytania": one stray letter in the label
    )


def test_ocr_of_a_boxed_form_values_after_lines_of_debris() -> None:
    form = parse_form(OCR_BOXES, 78)
    assert form.date == Field("19.01.2026", 0.78)
    assert form.reference == Field("GK-1/543/26", round(0.78 * 0.85, 3))  # "znaki": colon read as "i"
    assert form.user_name is not None and form.user_name.value == "Krzysztof Wójcik"
    assert form.office is not None and form.office.value == "Urząd Skarbowy w Bełchatowie"
    assert (form.return_phones, form.return_faxes) == (("+48744351941",), ("+48744351956",))
    assert form.return_emails == ("k.wojcik@belchatow.gov.pl",)
    assert form.question.value == (
        "Czy da się ustawić automatyczne wysyłanie przypomnień o płatnościach e-mailem?\n"
        "Przy zapisie decyzji pojawia się komunikat o błędzie połączenia z bazą danych."
    )


def test_typed_text_is_kept_as_written() -> None:
    """Debris trimming is for OCR only: typed values are the user's own words."""
    text = CLEAN.replace("Urząd Gminy Brzeźnica", "o Urząd Gminy Brzeźnica sekretariat m")
    assert parse_form(text).office == Field("o Urząd Gminy Brzeźnica sekretariat m", 1.0)
    assert parse_form(text, 100).office == Field("Urząd Gminy Brzeźnica", 1.0)


@pytest.mark.parametrize(("written", "address"), [
    ("z.sikoraQolsztyn.gov.pl", "z.sikora@olsztyn.gov.pl"),
    ("j.nowak©wachock.gov.pl", "j.nowak@wachock.gov.pl"),
    ("g.jablonskiQ©lodz-widzew.gov.pl", "g.jablonski@lodz-widzew.gov.pl"),
    ("a.dabrowska(?zyrardow.gov.pl o", "a.dabrowska@zyrardow.gov.pl"),
    ("t.zajac©sedziszów.gov.pl", "t.zajac@sedziszow.gov.pl"),
    ("m.mazurO©miNSK.gOV.pl", "m.mazur@minsk.gov.pl"),
    ("p.nowak@pcim:gov,pl", "p.nowak@pcim.gov.pl"),
    ("jan(at)pcim.pl", "jan@pcim.pl"),
])  # fmt: skip
def test_ocr_misreadings_of_addresses(written: str, address: str) -> None:
    phones, faxes, emails, doubts = parse_contacts(written)
    assert (emails, doubts) == ((address,), 1)


@pytest.mark.parametrize("written", ["QWERTY.pl", "www.pcim.pl", "Gmina.Pcim.pl", "jan.kowalskiGpcim.xyz", "aQbGc.pl"])
def test_no_address_made_up(written: str) -> None:
    assert parse_contacts(written)[2] == ()


# --------------------------------------------------------------------------- confidence
def test_fuzzy_label_lowers_label_confidence() -> None:
    text = CLEAN.replace("Imię i nazwisko Użytkownika", "lmię i nazwisko Użytkownlka")
    form = parse_form(text, 90)
    assert form.user_name is not None and form.user_name.value == "Jan Kowalski"
    assert form.user_name.confidence == pytest.approx(0.9 * 22 / 24, abs=1e-3)


def test_implausible_values_lower_confidence() -> None:
    text = (CLEAN.replace("Jan Kowalski", "Kowalski").replace("21.11.2026", "dzisiaj")
            .replace("Urząd Gminy Brzeźnica", "12345").replace(CONTACTS, "tel. 22 123"))  # fmt: skip
    form = parse_form(text)
    assert form.user_name == Field("Kowalski", 0.5)
    assert form.date == Field("dzisiaj", 0.3) and form.form_date is None
    assert form.office == Field("12345", 0.3)
    assert form.contacts == Field("tel. 22 123", 0.3) and form.return_phones == ()


@pytest.mark.parametrize(("name", "plausible"), [
    ("Jan Kowalski", 1.0), ("JAN KOWALSKI", 1.0), ("Anna Nowak-Jeziorańska", 1.0), ("jan kowalski", 1.0),
    ("jędrzejNowak", 0.5), ("AGNIeSZKA Krawczyk", 0.6), ("Kowalski", 0.5), ("J4n K0walski", 0.2),
])  # fmt: skip
def test_name_plausibility(name: str, plausible: float) -> None:
    assert parse_form(CLEAN.replace("Jan Kowalski", name)).user_name == Field(name, plausible)


def test_short_label_without_colon_is_less_sure() -> None:
    form = parse_form(CLEAN.replace("data:", "data").replace("znak:", "znak"))
    assert form.date == Field("21.11.2026", 0.85) and form.reference == Field("OR.0123.45.2026", 0.85)


def test_contact_line_with_a_bad_number_is_less_sure() -> None:
    form = parse_form(CLEAN.replace(CONTACTS, "tel. 22 123 45 67, fax 22 123 45"))
    assert form.return_phones == ("+48221234567",) and form.return_faxes == ()
    assert form.contacts is not None and form.contacts.confidence == 0.7


def test_nan_or_out_of_range_word_confidence() -> None:
    assert parse_form(CLEAN, float("nan")).user_name == Field("Jan Kowalski", 0.0)
    assert parse_form(CLEAN, 250).user_name == Field("Jan Kowalski", 1.0)


# --------------------------------------------------------------------------- dates, contacts
@pytest.mark.parametrize(("text", "expected"), [
    ("21.11.2026", date(2026, 11, 21)), ("21-11-2026", date(2026, 11, 21)), ("2026-11-21", date(2026, 11, 21)),
    ("21 listopada 2026", date(2026, 11, 21)), ("21.11.2026 r.", date(2026, 11, 21)),
    ("1 września 2026 r.", date(2026, 9, 1)), ("dnia 3 października 2026", date(2026, 10, 3)),
    ("21 XI 2026", date(2026, 11, 21)), ("21.XI.2026", date(2026, 11, 21)), ("5/1/2026", date(2026, 1, 5)),
    ("Pcim, 21.11.2026 r.", date(2026, 11, 21)), ("2l.11.2O26", date(2026, 11, 21)), ("21.11.26", date(2026, 11, 21)),
    ("21 Listopad 2026", date(2026, 11, 21)), ("31.02.2026", None), ("dzisiaj", None), ("", None),
])  # fmt: skip
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(("text", "phones", "faxes", "emails"), [
    ("tel. 22 123 45 67", ["+48221234567"], [], []),
    ("22 123 45 67", ["+48221234567"], [], []),
    ("tel./fax 22 123 45 67", ["+48221234567"], ["+48221234567"], []),
    ("tel/faks: (22) 123-45-67", ["+48221234567"], ["+48221234567"], []),
    ("faks 022 123 45 67", [], ["+48221234567"], []),
    ("fax: +48 22 123 45 67, 22 123 45 68", [], ["+48221234567", "+48221234568"], []),
    ("tel. kom. 600 100 200", ["+48600100200"], [], []),
    ("kom. 600 100 200", ["+48600100200"], [], []),
    ("telefon 22 123 45 67 lub 600 100 200", ["+48221234567", "+48600100200"], [], []),
    ("tel. 22 123 45 67 600 100 200", ["+48221234567", "+48600100200"], [], []),
    ("tel. 22 123 45 67 wew. 123", ["+48221234567"], [], []),
    ("fax 22 123 45 67, e-mail: a@b.pl, 600 100 200", ["+48600100200"], ["+48221234567"], ["a@b.pl"]),
    ("fax 22 123 45 67\n600 100 200", ["+48600100200"], ["+48221234567"], []),
    ("fax:\n22 123 45 67", [], ["+48221234567"], []),
    ("tel. 22 1O3 45 67", ["+48221034567"], [], []),
    ("+49 30 1234567", ["+49301234567"], [], []),
    ("j.kowalski @ pcim. gov. pl", [], [], ["j.kowalski@pcim.gov.pl"]),
    ("jan@pcim.pl. Tel. 22 123 45 67", ["+48221234567"], [], ["jan@pcim.pl"]),
    ("jan@pcim.pl. dziękuję", [], [], ["jan@pcim.pl"]),
    ("e-mail:Anna.Nowak-Kowalska@Gmina.Pcim.PL", [], [], ["Anna.Nowak-Kowalska@Gmina.Pcim.PL"]),
    ("a@b.pl, a@b.pl", [], [], ["a@b.pl"]),
    ("jan@@pcim.pl, jan@pcim, @pcim.pl", [], [], []),
    ("", [], [], []),
])  # fmt: skip
def test_parse_contacts(text: str, phones: list[str], faxes: list[str], emails: list[str]) -> None:
    got = parse_contacts(text)
    assert (list(got[0]), list(got[1]), list(got[2])) == (phones, faxes, emails)


# --------------------------------------------------------------------------- noisy variants
FIRST = ("Jan", "Anna", "Małgorzata", "Paweł", "Łukasz", "Józef", "Zofia", "Jędrzej", "Elżbieta", "Żaneta",
         "Przemysław", "Urszula", "Ewa", "Sławomir")  # fmt: skip
LAST = ("Kowalski", "Wójcik", "Dąbrowski", "Żółkiewski", "Woźniak", "Kozłowski", "Mazur", "Zając", "Król",
        "Nowak-Jeziorański", "Błaszczyk", "Piątek")  # fmt: skip
PLACES = (("Łódź", "Łodzi"), ("Żyrardów", "Żyrardowie"), ("Gniezno", "Gnieźnie"), ("Zielona Góra", "Zielonej Górze"),
          ("Kłodzko", "Kłodzku"), ("Ełk", "Ełku"), ("Mińsk Mazowiecki", "Mińsku Mazowieckim"), ("Brzeźnica", "Brzeźnicy"))  # fmt: skip
OFFICES = ("Urząd Gminy {n}", "Urząd Miasta {n}", "Starostwo Powiatowe w {l}", "Urząd Skarbowy w {l}",
           "Miejski Ośrodek Pomocy Społecznej w {l}", "Urząd Miasta i Gminy {n}")  # fmt: skip
QUESTIONS = (
    "Jak wygenerować zestawienie należności za wrzesień w module Księgowość?",
    "Po aktualizacji do wersji 4.12 program nie drukuje deklaracji podatkowych.",
    "Przy zapisie decyzji pojawia się komunikat o błędzie połączenia z bazą danych.",
    "Proszę o informację, czy moduł Kadry obsługuje nowe stawki składek ZUS.",
    "Czy można przenieść słowniki kontrahentów z poprzedniego roku budżetowego?",
    "Wydruk upomnienia zawiera błędną datę doręczenia i źle wyliczone odsetki.",
    "Nie możemy zaimportować wyciągu bankowego w formacie MT940.",
    "Od wczoraj logowanie kończy się komunikatem, że hasło wygasło.",
    "Prosimy o pilną pomoc, termin złożenia sprawozdania mija w piątek.",
)  # fmt: skip
MONTHS = ("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września",
          "października", "listopada", "grudnia")  # fmt: skip
LABELS = {"date": "data:", "reference": "znak:", "user_name": "Imię i nazwisko Użytkownika:",
          "office": "Nazwa Urzędu:", "contacts": "Zwrotny nr telefonu, faxu i/lub e-mail:"}  # fmt: skip
QUESTION_LABEL = "Treść pytania"
ACRO_NAMES = {"date": "date", "reference": "reference", "user_name": "user_name", "office": "office",
              "contacts": "contacts", "question": "question"}  # fmt: skip
FAX_HEADERS = ("21-11-2026 10:15  FROM +48 22 123 45 68  Page {n}/2", "Nov 21 2026 10:15AM  HP LASERJET FAX  p.{n}")
STRAY_SEPARATORS = (" ", "  ", " | ", " ...... ", " ____ ", "\t", " — ", " ~ ")


@dataclass(frozen=True)
class Values:
    """What a form says, and what the parser must read back."""

    date_text: str  # as written
    form_date: date
    reference: str
    user_name: str
    office: str
    contacts: str  # as written (with its own noise, which is kept)
    phones: tuple[str, ...]
    faxes: tuple[str, ...]
    emails: tuple[str, ...]
    question: str


def ascii_fold(text: str) -> str:
    text = text.replace("ł", "l").replace("Ł", "L")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _phone(rng: random.Random) -> tuple[str, str]:
    """(as written, E.164)."""
    if rng.random() < 0.3:
        digits = f"{rng.choice('5678')}{rng.randint(10, 99)}{rng.randint(100, 999)}{rng.randint(100, 999)}"
        written = rng.choice(("{0} {1} {2}", "{0}-{1}-{2}", "+48 {0} {1} {2}")).format(digits[:3], digits[3:6], digits[6:])
    else:
        digits = f"{rng.randint(12, 95)}{rng.randint(100, 999)}{rng.randint(10, 99)}{rng.randint(10, 99)}"
        a, b, c, d = digits[:2], digits[2:5], digits[5:7], digits[7:]
        written = rng.choice(("{} {} {} {}", "({}) {}-{}-{}", "+48 {} {} {} {}", "0{} {} {} {}")).format(a, b, c, d)
    return written, "+48" + digits


def _ocr_zero(written: str, rng: random.Random) -> str:
    """One "0" read as "O", inside a group that keeps a digit."""
    spots = [i for i, c in enumerate(written) if c == "0" and any(
        ch.isdigit() for ch in (written[i - 1:i] + written[i + 1:i + 2]))]  # fmt: skip
    if not spots:
        return written
    i = rng.choice(spots)
    return written[:i] + "O" + written[i + 1:]


def _contacts(rng: random.Random, first: str, last: str, place: str, p: float) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    (tel, tel164), (fax, fax164) = _phone(rng), _phone(rng)
    if fax164 == tel164:
        fax, fax164 = "22 999 99 99", "+48229999999"
    email = f"{ascii_fold(first)[0].lower()}.{ascii_fold(last).lower()}@{ascii_fold(place.split()[0]).lower()}.gov.pl"
    if rng.random() < p / 2:
        tel = _ocr_zero(tel, rng)
    written_email = email
    if rng.random() < p / 2:
        written_email = email.replace("@", rng.choice((" @ ", "@ ", " @"))).replace(".gov.pl", rng.choice((".gov.pl", ". gov. pl")))
    choice = rng.randrange(6)
    if choice == 0:
        return f"tel. {tel}, fax {fax}, {written_email}", (tel164,), (fax164,), (email,)
    if choice == 1:
        return f"tel./fax {tel}", (tel164,), (tel164,), ()
    if choice == 2:
        return f"kom. {tel}, e-mail: {written_email}", (tel164,), (), (email,)
    if choice == 3:
        return written_email, (), (), (email,)
    if choice == 4:
        return f"faks: {fax}", (), (fax164,), ()
    return f"tel. {tel}\ne-mail: {written_email}", (tel164,), (), (email,)


def random_values(rng: random.Random, p: float = 0.3) -> Values:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    place, loc = rng.choice(PLACES)
    day = date(2026, 1, 1).toordinal() + rng.randrange(730)
    when = date.fromordinal(day)
    written = rng.choice((f"{when:%d.%m.%Y}", f"{when:%d-%m-%Y}", f"{when:%Y-%m-%d}", f"{when.day} {MONTHS[when.month - 1]} {when.year}",
                          f"{when.day}.{when:%m.%Y} r."))  # fmt: skip
    reference = rng.choice((f"OR.{rng.randint(100, 9999)}.{rng.randint(1, 60)}.2026", f"FN-{rng.randint(1, 9)}/{rng.randint(10, 999)}/26"))
    contacts, phones, faxes, emails = _contacts(rng, first, last, place, p)
    question = "\n".join(rng.sample(QUESTIONS, rng.randint(1, 4)))
    office = rng.choice(OFFICES).format(n=place, l=loc)
    return Values(written, when, reference, f"{first} {last}", office, contacts, phones, faxes, emails, question)


def noisy_label(label: str, rng: random.Random, p: float, *, keep_colon: bool = False) -> str:
    """A printed label as OCR or a typist gives it back: diacritics lost, spaces broken,
    another case, the colon missing, doubled or spaced, "I" read as "l"."""
    if rng.random() < p:
        label = ascii_fold(label)
    if rng.random() < p:
        i = rng.randrange(1, max(2, len(label) - 1))
        if label[i] == " " and label[i - 1] != "i" and rng.random() < 0.5:
            label = label[:i] + label[i + 1:]
        elif label[i - 1].isalpha() and label[i].isalpha():
            label = label[:i] + " " + label[i:]
    if rng.random() < p / 3:
        label = rng.choice((label.upper(), label.lower()))
    if label.startswith("Im") and rng.random() < p / 3:
        label = "l" + label[1:]
    if label.endswith(":") and not keep_colon:
        r = rng.random()
        if r < p / 3:
            label = label[:-1]
        elif r < p / 2:
            label = label[:-1] + rng.choice(("::", " :", ";"))
    return label


def render(v: Values, rng: random.Random, p: float = 0.3) -> tuple[str, float | None]:
    """The form as text, the way one of our sources delivers it; and its word confidence."""
    style = rng.choices(("fax", "email", "acroform"), (0.7, 0.2, 0.1))[0]
    if style == "acroform":
        return _render_acroform(v, rng), None
    lines = [_title(rng, p)]
    values = {"date": v.date_text, "reference": v.reference, "user_name": v.user_name, "office": v.office, "contacts": v.contacts}
    same_line_short = rng.random() < p / 2
    for key, label in LABELS.items():
        if key == "reference" and same_line_short:
            continue
        lines += _labelled(noisy_label(label, rng, p, keep_colon=key == "reference" and same_line_short), values[key], rng, p)
        if key == "date" and same_line_short:
            lines[-1] += rng.choice(("    ", "\t", " | ")) + noisy_label("znak:", rng, p, keep_colon=True) + " " + v.reference
    lines += _question(v.question, rng, p)
    if style == "email":
        body = "\n".join(lines)
        if rng.random() < 0.5:
            body = "\n".join("> " + ln if ln else ">" for ln in lines)
        return f"Dzień dobry,\n\n{body}\n\n-- \n{v.user_name}\n", None
    return _paginate(lines, rng, p), round(rng.uniform(60.0, 100.0), 1)


def _title(rng: random.Random, p: float) -> str:
    title = rng.choice(("Zgłoszenie pytania", "Zgloszenie pytania", "ZGŁOSZENIE PYTANIA"))
    code = rng.choice(("HOT-01", "HOT-1", "HOT 01"))
    return rng.choice((f"{title}{' ' * rng.randint(1, 30)}{code}", f"{code}\n{title}", title, code))


def _labelled(label: str, value: str, rng: random.Random, p: float) -> list[str]:
    """A label and its value on one line, or the value on the next (non-empty) line; a
    long office name may wrap before its " w "."""
    if " w " in value and value.startswith(("Starostwo", "Urząd Skarbowy", "Miejski")) and rng.random() < p / 2:
        value = value.replace(" w ", "\nw ", 1)
    if rng.random() < p:
        return [label, *([""] * rng.randint(0, 1)), *value.split("\n")]
    separator = rng.choice(STRAY_SEPARATORS) if rng.random() < p else " "
    first, *more = value.split("\n")
    return [f"{label}{separator}{first}", *more]


def _question(question: str, rng: random.Random, p: float) -> list[str]:
    label = noisy_label(QUESTION_LABEL + rng.choice(("", ":")), rng, p)
    lines = question.split("\n")
    lines = [ln + " |" if rng.random() < p / 3 else ln for ln in lines]
    out = [f"{label} {lines[0]}", *lines[1:]] if rng.random() < p / 2 else [label, *lines]
    if rng.random() < p:
        out.append(rng.choice(("|", "_______________", "..........", "~", "")))
    return out


def _paginate(lines: list[str], rng: random.Random, p: float) -> str:
    """Optionally a cover sheet before, the form split over two pages, fax header lines."""
    header = rng.choice(FAX_HEADERS) if rng.random() < 0.7 else None
    pages: list[list[str]] = []
    if rng.random() < p / 2:
        pages.append(["FAKS", "Data: 01.01.2020", "Do: Centrum Wsparcia Użytkowników", "Od: Urząd, tel. 22 999 88 77",
                      "Liczba stron: 2", "W załączeniu przesyłamy formularz", "zgłoszenia pytania."])  # fmt: skip
    question_at = max(i for i, ln in enumerate(lines) if "pyta" in ascii_fold(ln).lower().replace(" ", "") and i > 1)
    if rng.random() < p and question_at + 2 < len(lines):
        cut = rng.randrange(question_at + 2, len(lines))
        pages += [lines[:cut], lines[cut:]]
    else:
        pages.append(lines)
    if header:
        pages = [[header.format(n=n + 1), *page] for n, page in enumerate(pages)]
    return "\n\f\n".join("\n".join(page) for page in pages)


def _render_acroform(v: Values, rng: random.Random) -> str:
    named = {"date": v.date_text, "reference": v.reference, "user_name": v.user_name, "office": v.office,
             "contacts": v.contacts.replace("\n", " "), "question": v.question}  # fmt: skip
    keys = list(named)
    rng.shuffle(keys)
    out = "\n".join(f"{ACRO_NAMES[k]}: {named[k]}" for k in keys)
    layer = "Zgłoszenie pytania HOT-01\n" + "\n".join(LABELS.values()) + "\nTreść pytania"
    return f"{out}\n{layer}"


def assert_round_trip(v: Values, text: str, word_confidence: float | None) -> None:
    form = parse_form(text, word_confidence)
    acro = text.startswith(tuple(ACRO_NAMES.values()))
    got = (form.is_form, form.form_date, _v(form.date), _v(form.reference), _v(form.user_name), _v(form.office),
           _v(form.contacts), form.return_phones, form.return_faxes, form.return_emails, form.question.value)  # fmt: skip
    want = (True, v.form_date, v.date_text, v.reference, v.user_name, v.office, v.contacts.replace("\n", " ") if acro else v.contacts,
            v.phones, v.faxes, v.emails, v.question)  # fmt: skip
    assert got == want, text
    fields = (form.date, form.reference, form.user_name, form.office, form.contacts, form.question)
    floor = 0.75 * (1.0 if word_confidence is None else word_confidence / 100)  # labels found, values plausible
    assert all(f is not None and f.confidence >= floor - 1e-3 for f in fields), (fields, text)


def _v(field: Field | None) -> str | None:
    return field.value if field else None


def test_noise_generator_makes_varied_texts() -> None:
    texts = [render(random_values(random.Random(seed)), random.Random(seed), 0.5)[0] for seed in range(60)]
    joined = "\n".join(texts)
    for marker in ("Imie i nazwisko", "Page 2/2", "\f", "> ", "user_name: ", "HOT-1", " | ", "......", "::"):
        assert marker in joined, marker
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize("p", [0.3, 0.6])
def test_200_seeded_noisy_variants_read_back_exactly(p: float) -> None:
    failures = []
    for seed in range(200):
        rng = random.Random(seed * 7919 + int(p * 10))
        values = random_values(rng, p)
        text, confidence = render(values, rng, p)
        try:
            assert_round_trip(values, text, confidence)
        except AssertionError:
            failures.append(seed)
    assert failures == [], f"{len(failures)}/200 variants misread: seeds {failures[:20]}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), p=st.floats(0.0, 0.8))
def test_rendered_then_noised_form_round_trips(seed: int, p: float) -> None:
    rng = random.Random(seed)
    values = random_values(rng, p)
    text, confidence = render(values, rng, p)
    assert_round_trip(values, text, confidence)


# --------------------------------------------------------------------------- never raises
LABELISH = st.sampled_from([
    "data:", "znak:", "Imię i nazwisko Użytkownika:", "Nazwa Urzędu:", "Zwrotny nr telefonu, faxu i/lub e-mail:",
    "Treść pytania", "Zgłoszenie pytania", "HOT-01", "HOT-1", "\f", "> ", "|", "......", "tel./fax", "@", "21.11.2026",
    "22 123 45 67", "+48", "user_name:", "question:", "-- ", "Page 1/2", "10:15", "FROM",
])  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(LABELISH, st.text(max_size=30)), max_size=25).map(lambda parts: "\n".join(parts)),
       st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)))  # fmt: skip
def test_arbitrary_text_never_raises(text: str, word_confidence: float | None) -> None:
    _parse(text, word_confidence)  # the unguarded parser: no exception hidden by the guard
    form = parse_form(text, word_confidence)
    looks_like_form(text)
    assert isinstance(form, Hot01Form) and isinstance(form.question, Field)
    for f in (form.date, form.reference, form.user_name, form.office, form.contacts, form.question):
        assert f is None or 0.0 <= f.confidence <= 1.0
    if not form.is_form:
        assert form.question.value == text.strip() and form.user_name is None and form.return_phones == ()


@given(st.text(max_size=400))
def test_any_unicode_text_never_raises(text: str) -> None:
    _parse(text, None)
    parse_form(text)
    looks_like_form(text)


# --------------------------------------------------------------------------- OCR misreadings (bench/ocr_bench.py)
def ocr_form(**lines: str) -> str:
    """CLEAN as OCR reads it, with some of its lines replaced."""
    text = CLEAN
    for old, new in lines.items():
        text = text.replace(dict(date="data: 21.11.2026", reference="znak: OR.0123.45.2026",
                                 name="Imię i nazwisko Użytkownika: Jan Kowalski")[old], new)  # fmt: skip
    return text


@pytest.mark.parametrize("line", ["dala: 21.11.2026", "duta:\n21.11.2026", "Data; 21.11.2026"])
def test_date_label_with_one_letter_misread(line: str) -> None:
    form = parse_form(ocr_form(date=line), 90)
    assert form.date is not None and form.date.value == "21.11.2026"
    assert form.reference is not None and form.reference.value == "OR.0123.45.2026"


@pytest.mark.parametrize("line", ["anak; OR.0123.45.2026", "<nak:\nOR.0123.45.2026", "znuk: OR.0123.45.2026"])
def test_reference_label_with_one_letter_misread(line: str) -> None:
    form = parse_form(ocr_form(reference=line), 90)
    assert form.reference is not None and form.reference.value == "OR.0123.45.2026"
    assert form.user_name is not None and form.user_name.value == "Jan Kowalski"


def test_a_misread_short_label_needs_its_colon_and_does_not_end_the_question() -> None:
    assert hot01.match_label("dala 21.11.2026") is None  # one letter off and no colon: not a label
    text = CLEAN.replace("Po aktualizacji", "Dana: po aktualizacji")
    assert parse_form(text, 90).question.value.endswith("Dana: po aktualizacji do wersji 4.12 program nie drukuje deklaracji.")


@pytest.mark.parametrize(("read", "meant"), [
    ("50.1885.5.2026", "SO.1885.5.2026"), ("3RM.8040.49.2026", "BRM.8040.49.2026"),
    ("„KP.6800.44.2026", "KP.6800.44.2026"), ("'$0-8/179/26", "SO-8/179/26"), ("ZP9972.17.2026", "ZP.9972.17.2026"),
    ("OR.0123.45.2026", "OR.0123.45.2026"), ("FN-3/118/26", "FN-3/118/26"), ("12.2026", "12.2026"),
    ("4P-1/36/26", "4P-1/36/26"), ("7.P.196.20.2026", "7.P.196.20.2026"),
    ("BRM. 7526.12.2026", "BRM.7526.12.2026"), ("BRM. 3099. 28.2026", "BRM.3099.28.2026"), ("FN-3 /118/26", "FN-3/118/26"),
])  # fmt: skip
def test_ocr_misreadings_of_a_case_sign(read: str, meant: str) -> None:
    form = parse_form(ocr_form(reference=f"znak: {read}"), 90)
    assert form.reference is not None and form.reference.value == meant
    typed = parse_form(ocr_form(reference=f"znak: {read}"))
    assert typed.reference is not None and typed.reference.value == read  # typed text is kept as written


@pytest.mark.parametrize(("read", "meant"), [
    ("wojciech Sikora", "Wojciech Sikora"), ("Jolanta wójcik", "Jolanta Wójcik"), ("łukasz Jabłoński", "Łukasz Jabłoński"),
    ("zofia Nowak-Jeziorańska", "Zofia Nowak-Jeziorańska"), ("Jan Kowalski", "Jan Kowalski"),
    ("józef Wójcik", "Józef Wójcik"), ("Ludwig van Beethoven", "Ludwig van Beethoven"),  # a particle stays small
])  # fmt: skip
def test_ocr_small_initials_of_a_name_are_capitals(read: str, meant: str) -> None:
    form = parse_form(ocr_form(name=f"Imię i nazwisko Użytkownika: {read}"), 90)
    assert form.user_name is not None and form.user_name.value == meant
    typed = parse_form(ocr_form(name=f"Imię i nazwisko Użytkownika: {read}"))
    assert typed.user_name is not None and typed.user_name.value == read


def test_ocr_small_letter_at_a_sentence_start_of_the_question() -> None:
    text = CLEAN.replace("Jak wygenerować", "sposób: wygenerować").replace("Po aktualizacji", "po aktualizacji")
    text = text.replace("Księgowość?", "Księgowość?\nwydruk upomnienia, np.\nwydruk i tel.\nwydruk.")
    form = parse_form(text, 90)
    assert form.question.value.splitlines() == [
        "Sposób: wygenerować zestawienie należności za wrzesień w module Księgowość?", "Wydruk upomnienia, np.",
        "wydruk i tel.", "wydruk.", "po aktualizacji do wersji 4.12 program nie drukuje deklaracji."]  # "p": not alike
    assert parse_form(text).question.value.startswith("sposób: wygenerować")  # typed: as written
