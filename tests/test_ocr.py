"""parsers.ocr: page preparation (squaring, deskew, despeckle, form-line removal) and
tesseract, on HOT-01 forms rendered by tests/formfactory.py as a fax machine sends them."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from parsers import misreadings, ocr
from parsers.ocr.engine import _engine
from parsers.ocr.preparation import _skew_angle
from parsers.ocr.text import _result
from tests.formfactory import FINE, NORMAL, SAMPLE, FormFields, render_form


def norm(text: str) -> str:
    return " ".join(text.split())


def assert_reads(text: str, fields: FormFields) -> None:
    """The fields a consultant needs, each exactly, in the page text."""
    flat = norm(text)
    for value in (fields.user_name, fields.office, fields.reference, fields.date):
        assert value in flat, f"{value!r} not in {flat!r}"
    for line in fields.question.splitlines():
        assert norm(line) in flat, f"{line!r} not in {flat!r}"


@lru_cache(maxsize=None)
def page(**kw: object) -> Image.Image:
    return render_form(SAMPLE, **kw)  # type: ignore[arg-type]


def ink(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L")) < 128


def longest_run(mask: np.ndarray, axis: int) -> int:
    """Longest straight run of ink along rows (axis=1) or columns (axis=0)."""
    lines = mask if axis == 1 else mask.T
    best = 0
    for row in lines:
        padded = np.concatenate(([0], row.view(np.uint8), [0]))
        edges = np.flatnonzero(np.diff(padded))
        if edges.size:
            best = max(best, int((edges[1::2] - edges[::2]).max()))
    return best


# --------------------------------------------------------------------------- prepare
def test_oversubscription_guard_is_set_on_import() -> None:
    assert os.environ["OMP_THREAD_LIMIT"] == "1"


def test_normal_mode_is_stretched_to_square_pixels() -> None:
    fine, normal = page(dpi=FINE), page(dpi=NORMAL)
    assert normal.height * 2 == pytest.approx(fine.height, abs=2)
    a = ocr.prepare(fine, *FINE, ocr.with_steps(crop=False))
    b = ocr.prepare(normal, *NORMAL, ocr.with_steps(crop=False))
    assert b.size == pytest.approx(a.size, abs=3)
    assert b.info["dpi"] == (204, 204)


def blobs(mask: np.ndarray, max_area: int) -> int:
    """Connected ink blobs of at most `max_area` pixels."""
    areas = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)[2][1:, cv2.CC_STAT_AREA]
    return int((areas <= max_area).sum())


@pytest.mark.parametrize("lines", ["ruled", "dotted", "boxes"])
def test_form_lines_are_removed_and_the_text_kept(lines: str) -> None:
    raw = page(lines=lines, layout="next-line", skew_degrees=0.8)
    before = ink(ocr.prepare(raw, *FINE, ocr.with_steps(lines=False, blur=0.0)))
    after = ink(ocr.prepare(raw, *FINE, ocr.with_steps(blur=0.0)))
    if lines == "dotted":
        assert blobs(before, 30) - blobs(after, 30) > 1000  # the dots, and only them, are gone
    else:
        assert longest_run(before, axis=1) > 500  # a rule or a box top across the page
        assert longest_run(after, axis=1) < 120  # the longest left is a letter's stroke
    if lines == "boxes":
        assert longest_run(before, axis=0) > 60 > longest_run(after, axis=0)
    letters = ink(ocr.prepare(page(layout="next-line", skew_degrees=0.8), *FINE, ocr.with_steps(blur=0.0)))
    assert after.sum() == pytest.approx(letters.sum(), rel=0.05)  # the letters all stay


def test_skew_is_levelled() -> None:
    skewed = page(skew_degrees=2.0)
    binary = np.asarray(skewed.convert("L")) < 128
    assert _skew_angle(binary, 1.0, 1.0) == pytest.approx(-2.0, abs=0.15)
    levelled = ink(ocr.prepare(skewed, *FINE, ocr.with_steps(blur=0.0)))
    assert abs(_skew_angle(levelled, 1.0, 1.0)) < 0.2


def test_speckle_goes_and_the_dots_of_letters_stay() -> None:
    noisy_raw = page(speckle=0.002, seed=3)
    noisy = ink(ocr.prepare(noisy_raw, *FINE, ocr.with_steps(blur=0.0, crop=False)))
    clean = ink(ocr.prepare(page(), *FINE, ocr.with_steps(blur=0.0, crop=False)))
    assert blobs(ink(noisy_raw), 2) > 2000
    assert blobs(noisy, 2) < 100
    assert blobs(clean, 60) > 40  # dots of i, j, ż, full stops, colons
    assert blobs(noisy, 60) - blobs(noisy, 2) >= blobs(clean, 60) - 5  # ... are all still there


def test_greyscale_takes_any_mode() -> None:
    for image in (Image.new("RGBA", (8, 8), (0, 0, 0, 0)), Image.new("I;16", (8, 8), 300),
                  Image.new("P", (8, 8)), Image.new("CMYK", (8, 8)), Image.new("1", (8, 8), 1)):  # fmt: skip
        grey = ocr.greyscale(image)
        assert grey.dtype == np.uint8 and grey.shape == (8, 8)
    assert ocr.greyscale(Image.new("RGBA", (4, 4), (0, 0, 0, 0))).min() == 255  # transparent is paper


def test_a_blank_page_prepares_to_a_blank_image() -> None:
    blank = Image.new("1", (1728, 2292), 1)
    out = ocr.prepare(blank, *FINE)
    assert not ink(out).any()
    assert ocr.ocr(out, timeout=10).text == ""


# --------------------------------------------------------------------------- tesseract
FORMS = [
    SAMPLE,
    FormFields("7.05.2026 r.", "FN-3/118/26", "Jędrzej Woźniak", "Starostwo Powiatowe w Żyrardowie",
               "tel. 46 855 33 21, j.wozniak@zyrardow.gov.pl",
               "Wydruk upomnienia zawiera błędną datę doręczenia i źle wyliczone odsetki.\n"
               "Proszę o informację, czy moduł Kadry obsługuje nowe stawki składek ZUS."),
    FormFields("2026-03-18", "GK.6220.3.2026", "Bożena Szymańska", "Miejski Ośrodek Pomocy Społecznej w Ełku",
               "fax 87 621 14 02", "Nie możemy zaimportować wyciągu bankowego w formacie MT940.\n"
               "Gdzie w dokumentacji opisano zamykanie roku obrachunkowego w module Płace?"),
]  # fmt: skip
CASES = [  # form, font, dpi, layout, lines, skew, speckle, size
    (0, "DejaVuSans", FINE, "same-line", "none", 0.0, 0.0, 11),
    (1, "LiberationSerif-Regular", FINE, "next-line", "dotted", 1.0, 0.001, 11),
    (2, "LiberationMono-Regular", FINE, "same-line", "ruled", -0.6, 0.0005, 10),
    (1, "DejaVuSans", NORMAL, "same-line", "boxes", -0.7, 0.001, 12),
    (2, "LiberationSans-Regular", NORMAL, "next-line", "ruled", 0.5, 0.0005, 12),
]


@pytest.mark.parametrize(("form", "font", "dpi", "layout", "lines", "skew", "speckle", "size"), CASES)
def test_ocr_reads_every_field_of_a_faxed_form(form: int, font: str, dpi: tuple[int, int], layout: str, lines: str,
                                               skew: float, speckle: float, size: int) -> None:  # fmt: skip
    fields = FORMS[form]
    image = render_form(fields, font=font, dpi=dpi, layout=layout, lines=lines, skew_degrees=skew,  # type: ignore[arg-type]
                        speckle=speckle, size_pt=size, seed=7)  # fmt: skip
    result = ocr.ocr(ocr.prepare(image, *dpi), timeout=30)
    assert_reads(result.text, fields)
    assert "Imię i nazwisko Użytkownika" in result.text and "Treść pytania" in result.text
    assert "FROM +48 22 123 45 68" in result.text  # the fax header line
    assert result.confidence > 80


def test_without_line_removal_tesseract_loses_lines_of_text() -> None:
    """Why the step exists: dotted lines under the values cost whole fields."""
    top = page(layout="next-line", lines="dotted").crop((0, 0, 1728, 1000))
    raw = ocr.ocr(ocr.prepare(top, *FINE, ocr.with_steps(lines=False)), timeout=30).text
    clean = ocr.ocr(ocr.prepare(top, *FINE), timeout=30).text
    wanted = [SAMPLE.date, SAMPLE.reference, SAMPLE.user_name, SAMPLE.office]
    assert all(v in clean for v in wanted), clean
    assert sum(v in raw for v in wanted) < len(wanted), raw


def test_result_has_words_with_confidences() -> None:
    crop = page().crop((0, 150, 1728, 450))
    result = ocr.ocr(ocr.prepare(crop, *FINE), timeout=30)
    assert result.text.splitlines()[0].startswith("Zgłoszenie pytania")
    words = dict(result.words)
    assert "Zgłoszenie" in words and all(0 <= c <= 100 for c in words.values())
    assert result.confidence == pytest.approx(sum(words.values()) / len(words), abs=0.1)


def test_a_slow_page_times_out() -> None:
    with pytest.raises(ocr.OcrTimeout):
        ocr.ocr(ocr.prepare(page(), *FINE), timeout=0.05)


def test_sideways_page_is_seen_without_ocr() -> None:
    upright = ocr.prepare(page(), *FINE)
    assert not ocr.looks_sideways(upright)
    assert ocr.looks_sideways(upright.transpose(Image.Transpose.ROTATE_90))
    assert ocr.looks_sideways(upright.transpose(Image.Transpose.ROTATE_270))


def test_upside_down_page_is_detected() -> None:
    upside_down = ocr.prepare(page().rotate(180), *FINE)
    turned = ocr.turned_upright(upside_down, timeout=30)
    assert turned is not None
    assert ocr.turned_upright(ocr.prepare(page(), *FINE), timeout=30) is None


@pytest.mark.parametrize(("read", "meant"), [
    ("p.krolQGolsztyn.gov.pl", "p.krol@olsztyn.gov.pl"),  # pol has no "@"
    ("k.mazurQsedziszow.gov.pl,", "k.mazur@sedziszow.gov.pl,"),
    ("z.sikora©swidnik.gov.pl", "z.sikora@swidnik.gov.pl"),
    ("kowalski(©wachock.gov.pl", "kowalski@wachock.gov.pl"),
    ("s.nowak(Dsedziszow.gov.pl", "s.nowak@sedziszow.gov.pl"),
    ("e.dabrowska@pila.gov.p!", "e.dabrowska@pila.gov.pl"),
    ("|.kowalski@wachock.gov.p]", "l.kowalski@wachock.gov.pl"),
    ("$0.2345.1.2026", "SO.2345.1.2026"), ("S0.4534.50.2026", "SO.4534.50.2026"), ("0R-3/118/26", "OR-3/118/26"),
    ("RG.2438,47.2026", "RG.2438.47.2026"), ("BeSTiQ?", "BeSTi@?"), ("BeSTi©", "BeSTi@"),
    ("jan@urzad.gov.pl", "jan@urzad.gov.pl"), ("50.1122.45.2026", "50.1122.45.2026"), ("4,12", "4,12"),
    ("Gminy", "Gminy"), ("BeSTia", "BeSTia"), ("tel.", "tel."), ("ZUS.", "ZUS."), ("HOT-01", "HOT-01"),
    ("a.wojcikB©olsztyn.gov.pl", "a.wojcik@olsztyn.gov.pl"), ("k.wozniakQ©Oklodzko.gov.pl", "k.wozniak@klodzko.gov.pl"),
    ("s.żolkiewski©wachock.gov.pl", "s.zolkiewski@wachock.gov.pl"), ("u.jablonska@czestochowa.góv.pl", "u.jablonska@czestochowa.gov.pl"),
    ("m.wrobel@gniezno.qov.pl", "m.wrobel@gniezno.gov.pl"), ("j.baran@gniezno,gov.pl,", "j.baran@gniezno.gov.pl,"),
    ("a@b.pl,c@d.pl", "a@b.pl,c@d.pl"), ("aqov@pcim.pl", "aqov@pcim.pl"), ("Łódź", "Łódź"),
    ("m.krawczyk(Wklodzko.gov.pl", "m.krawczyk@klodzko.gov.pl"), ("a.nowak(QOwachock.gov.pl", "a.nowak@wachock.gov.pl"),
    ("l.krawczyk(Ówachock.gov.pl", "l.krawczyk@wachock.gov.pl"), ("(jan@pcim.pl)", "(jan@pcim.pl)"), ("Urząd(W", "Urząd(W"),
])  # fmt: skip
def test_sure_misreadings_are_repaired(read: str, meant: str) -> None:
    assert ocr.repair_word(read) == meant


@pytest.mark.parametrize(("words", "meant"), [
    (["e.kowalskaQ©", "belchatow.gov.pl"], ["e.kowalska@belchatow.gov.pl"]),
    (["tel.", "22", "z.jablonskaG", "gniezno.gov.pl,"], ["tel.", "22", "z.jablonska@gniezno.gov.pl,"]),
    (["w.", "mazur@olsztyn.gov.pl"], ["w.mazur@olsztyn.gov.pl"]),
    (["w", "Gminie", "Pcim.pl"], ["w", "Gminie", "Pcim.pl"]), (["a.", "b"], ["a.", "b"]),
    (["Urząd", "Gminy", "Nowa.Wieś.pl"], ["Urząd", "Gminy", "Nowa.Wieś.pl"]),
])  # fmt: skip
def test_an_email_split_in_two_is_one_word_again(words: list[str], meant: list[str]) -> None:
    joined = ocr.join_split_emails([(w, 90.0 - i) for i, w in enumerate(words)])
    assert [ocr.repair_word(w) for w, _ in joined] == meant
    assert len(joined) == len(words) or min(c for _, c in joined) == 90.0 - len(words) + 1  # the lower confidence


def test_the_loaded_tesseract_reads_as_a_tesseract_run_does() -> None:
    """The in-process engine (kept loaded: no 0.2 s of loading per page) is the same tesseract."""
    prepared = ocr.prepare(page().crop((0, 0, 1728, 900)), *FINE)
    kept = ocr.ocr(prepared, timeout=30)
    run = ocr.ocr(prepared, timeout=30, steps=ocr.with_steps(engine="cli"))
    assert kept.text == run.text and [w for w, _ in kept.words] == [w for w, _ in run.words]
    assert all(abs(a - b) <= 1 for (_, a), (_, b) in zip(kept.words, run.words))  # the CLI's TSV rounds them
    assert _engine(ocr.LANG) is _engine(ocr.LANG)  # loaded once per process


@lru_cache(maxsize=None)
def lexicon() -> ocr.Lexicon:
    engine = _engine(ocr.LANG)
    assert engine is not None and engine.lexicon() is not None
    return engine.lexicon()  # type: ignore[return-value]


def test_the_word_list_is_tesseracts_own() -> None:
    words = lexicon()
    assert "nie" in words and "zaksięgowana" in words and "Sławomir" in words and "Płace" in words
    assert "wpłalę" not in words and "xyzq" not in words and "" not in words
    assert ocr.Lexicon.load(Path("/nonexistent.traineddata")) is None


@pytest.mark.parametrize(("read", "meant"), [
    ("wpłalę,", "wpłatę,"), ("pylania", "pytania"), ("intormację,", "informację,"), ("teletonu,", "telefonu,"),
    ("zawicra", "zawiera"), ("cksporcie", "eksporcie"), ("raporlów", "raportów"), ("Lermin", "termin"),
    ("Stawomir", "Sławomir"), ("Agnicszka", "Agnieszka"), ("Fłk", "Ełk"), ("Zwrolny", "Zwrotny"),
    # kept: known words, words the list lacks with no misread neighbour in it, two
    # candidates ("Jahłońska"), a diacritic that would have to go ("zaksięgowaną" is not
    # in the list, "zaksięgowana" is), capitals, digits, signs
    ("zaksięgowaną", "zaksięgowaną"), ("Jahłońska", "Jahłońska"), ("Wąchocku", "Wąchocku"), ("Kadry", "Kadry"),
    ("ZUS.", "ZUS."), ("MT940", "MT940"), ("Rb-27S", "Rb-27S"), ("BeSTi@?", "BeSTi@?"), ("tel.", "tel."),
])  # fmt: skip
def test_a_word_one_misread_letter_from_a_known_word(read: str, meant: str) -> None:
    assert ocr.repair_word(read, lexicon()) == meant
    assert ocr.repair_word(read) == read  # without the list: as read


@pytest.mark.parametrize(("read", "meant"), [
    ("Imie", "Imię"), ("Uzytkownika:", "Użytkownika:"), ("Urzedu:", "Urzędu:"), ("Jedrzej", "Jędrzej"), ("Bozena", "Bożena"),
    ("Czestochowie", "Częstochowie"), ("Swidnik", "Świdnik"), ("Spolecznej", "Społecznej"),
    # kept: English words, words with no accented form, names the list lacks, capitals
    ("Page", "Page"), ("Place", "Place"), ("nazwisko", "nazwisko"), ("Kadry", "Kadry"), ("FROM", "FROM"), ("MT940", "MT940"),
])  # fmt: skip
def test_a_word_the_english_model_read_gets_its_polish_letters_back(read: str, meant: str) -> None:
    engine = _engine(ocr.LANG)
    assert engine is not None
    assert misreadings.accented(read, lexicon(), engine.lexicon("eng")) == meant


def test_only_words_the_english_model_read_get_polish_letters() -> None:
    engine = _engine(ocr.LANG)
    assert engine is not None
    data = {"text": ["Imie", "Urzad", "Zgłoszenie"], "conf": ["90", "90", "90"], "block_num": ["1"] * 3,
            "par_num": ["1"] * 3, "line_num": ["1", "1", "2"], "lang": ["eng", "pol", "pol"]}  # fmt: skip
    result = _result(data, True, lexicon(), engine.lexicon("eng"))  # type: ignore[arg-type]
    assert result.text == "Imię Urzad\nZgłoszenie"  # "Urzad" from the Polish model is as it wrote it


def test_pages_read_from_threads_of_one_process_take_turns() -> None:
    from concurrent.futures import ThreadPoolExecutor

    prepared = ocr.prepare(page().crop((0, 0, 1728, 700)), *FINE)
    with ThreadPoolExecutor(3) as pool:
        texts = list(pool.map(lambda _: ocr.ocr(prepared, timeout=60).text, range(3)))
    assert len(set(texts)) == 1 and SAMPLE.user_name in texts[0]
