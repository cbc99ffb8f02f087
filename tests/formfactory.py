"""Render HOT-01 forms and other fax pages, as a fax machine would send them.

Used by the fax/OCR tests and by `bench/ocr_bench.py`. A page is drawn in greyscale at
392 dpi (twice fax resolution), skewed, scanned down to the fax resolution (204 dpi across,
196 or 98 lines per inch) by area averaging, thresholded to 1 bit and sprinkled with
speckle: the same chain of losses a paper form goes through in a fax machine.
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Layout = Literal["same-line", "next-line"]
Lines = Literal["none", "ruled", "dotted", "boxes"]

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FONTS = ("DejaVuSans", "DejaVuSerif", "LiberationSans-Regular", "LiberationSerif-Regular",
         "LiberationMono-Regular", "DejaVuSansCondensed")  # fmt: skip
BOLD = {"DejaVuSans": "DejaVuSans-Bold", "DejaVuSerif": "DejaVuSerif-Bold",
        "LiberationSans-Regular": "LiberationSans-Bold", "LiberationSerif-Regular": "LiberationSerif-Bold",
        "LiberationMono-Regular": "LiberationMono-Bold", "DejaVuSansCondensed": "DejaVuSansCondensed-Bold"}  # fmt: skip
HEADER = "21-11-2026 10:15  FROM +48 22 123 45 68  Page 1/1"
FINE, NORMAL = (204, 196), (204, 98)
DRAW_DPI = 392  # drawing resolution: 2x fax, so the scan-down averages real detail
PAGE_IN = (1728 / 204, 11.69)  # fax scan width (1728 px at 204 dpi) x A4 height
MARGIN_IN, TOP_IN = 0.9, 0.75

LABELS = {
    "date": "data:",
    "reference": "znak:",
    "user_name": "Imię i nazwisko Użytkownika:",
    "office": "Nazwa Urzędu:",
    "contacts": "Zwrotny nr telefonu, faxu i/lub e-mail:",
}
QUESTION_LABEL = "Treść pytania"
TITLE, CODE = "Zgłoszenie pytania", "HOT-01"


@dataclass(frozen=True, slots=True)
class FormFields:
    date: str
    reference: str
    user_name: str
    office: str
    contacts: str
    question: str  # several lines, "\n"-separated


PHONE_ONLY = FormFields(date="20.11.2026", reference="OR.1", user_name="Jan Nowak", office="Urząd Gminy",
                        contacts="tel. 22 123 45 67", question="Jak zmienić hasło?")  # fmt: skip


def typed_form(fields: FormFields) -> str:
    """The form as a user types it into an e-mail body: title, "label: value" lines, the question."""
    lines = [f"{TITLE} {CODE}", "", *(f"{label} {getattr(fields, key)}" for key, label in LABELS.items()), QUESTION_LABEL]
    return "\n".join([*lines, fields.question]) + "\n"


def font_path(name: str) -> Path:
    """A TrueType font by file stem (e.g. "DejaVuSerif") from the Debian font packages."""
    for folder in FONT_DIRS:
        path = folder / f"{name}.ttf"
        if path.exists():
            return path
    raise FileNotFoundError(f"font {name!r} not found: install fonts-dejavu-core and fonts-liberation")


@lru_cache(maxsize=64)
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(name)), size)


def px(points: float) -> int:
    return round(points * DRAW_DPI / 72)


# --------------------------------------------------------------------------- drawing
class Page:
    """A greyscale drawing surface with a text cursor, in DRAW_DPI pixels."""

    def __init__(self, font: str, size_pt: float) -> None:
        self.img = Image.new("L", (round(PAGE_IN[0] * DRAW_DPI), round(PAGE_IN[1] * DRAW_DPI)), 255)
        self.draw = ImageDraw.Draw(self.img)
        self.font_name, self.font = font, load_font(font, px(size_pt))
        self.left = round(MARGIN_IN * DRAW_DPI)
        self.right = self.img.width - self.left
        self.y = round(TOP_IN * DRAW_DPI)
        ascent, descent = self.font.getmetrics()
        self.ascent, self.descent = ascent, descent
        self.line_h = round((ascent + descent) * 1.25)

    def width(self, text: str, font: ImageFont.FreeTypeFont | None = None) -> int:
        return round((font or self.font).getlength(text))

    def text(self, x: int, text: str, font: ImageFont.FreeTypeFont | None = None) -> None:
        self.draw.text((x, self.y), text, font=font or self.font, fill=0)

    def newline(self, factor: float = 1.0) -> None:
        self.y += round(self.line_h * factor)

    def wrap(self, text: str, width: int) -> list[str]:
        """Greedy word wrap to `width` pixels."""
        out: list[str] = []
        for para in text.split("\n"):
            line = ""
            for word in para.split():
                candidate = f"{line} {word}".strip()
                if line and self.width(candidate) > width:
                    out.append(line)
                    line = word
                else:
                    line = candidate
            out.append(line)
        return out

    def rule(self, x0: int, x1: int, style: Lines) -> None:
        """A ruled or dotted line under the current text line, just clear of descenders."""
        y = self.y + self.ascent + self.descent + px(1.5)
        thick = max(2, px(0.8))
        if style == "ruled":
            self.draw.rectangle((x0, y, x1, y + thick), fill=0)
        elif style == "dotted":
            step, dot = px(3.0), max(3, px(1.0))
            for x in range(x0, x1, step):
                self.draw.rectangle((x, y, x + dot, y + dot), fill=0)

    def box(self, x0: int, y0: int, x1: int, y1: int) -> None:
        self.draw.rectangle((x0, y0, x1, y1), outline=0, width=max(2, px(0.8)))


def _draw_value(page: Page, label: str, value: str, layout: Layout, lines: Lines) -> None:
    """One labelled field; the value goes to the next line(s) when it does not fit."""
    gap = page.width(" ")
    page.text(page.left, label)
    x = page.left + page.width(label) + gap
    if layout == "same-line" and x + page.width(value) + 2 * px(4) <= page.right:
        _value_lines(page, [value], x, lines)
        return
    page.newline(1.2 if lines == "boxes" else 1.0)
    _value_lines(page, page.wrap(value, page.right - page.left - 2 * px(6)), page.left, lines)


def _value_lines(page: Page, values: list[str], x: int, lines: Lines) -> None:
    """Value lines from `x`, with a rule under each or a box around them all."""
    inset = px(4) if lines == "boxes" else page.width(" ") // 2
    top = page.y - px(3)
    for value in values:
        page.text(x + inset, value)
        if lines in ("ruled", "dotted"):
            page.rule(x, page.right, lines)
        page.newline()
    if lines == "boxes":
        page.box(x, top, page.right, page.y - page.line_h + page.ascent + page.descent + px(3))
    page.newline(0.45)


def _draw_form(page: Page, fields: FormFields, layout: Layout, lines: Lines) -> None:
    title = load_font(BOLD[page.font_name], px(16))
    code = load_font(BOLD[page.font_name], px(12))
    page.text(page.left, TITLE, title)
    page.text(page.right - page.width(CODE, code), CODE, code)
    page.newline(2.2)
    for key, label in LABELS.items():
        _draw_value(page, label, getattr(fields, key), layout, lines)
    page.newline(0.5)
    page.text(page.left, QUESTION_LABEL)
    page.newline(1.25)
    question = [ln for ln in fields.question.split("\n") if ln.strip()]
    wrapped = [w for ln in question for w in page.wrap(ln, page.right - page.left - 2 * px(6))]
    _value_lines(page, wrapped, page.left, lines)


def draw_header(page: Page, header_line: str) -> None:
    small = load_font("DejaVuSansMono", px(8))
    page.draw.text((page.left // 2, px(10)), header_line, font=small, fill=0)


# --------------------------------------------------------------------------- scanning
def scan(img: Image.Image, dpi: tuple[int, int], skew_degrees: float, speckle: float, seed: int) -> Image.Image:
    """Skew, scan down to the fax resolution, threshold to 1 bit and add speckle noise."""
    if skew_degrees:
        img = img.rotate(skew_degrees, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=255)
    size = (round(PAGE_IN[0] * dpi[0]), round(PAGE_IN[1] * dpi[1]))
    grey = np.asarray(img.resize(size, Image.Resampling.BOX))
    black = grey < 140
    if speckle:
        rng = np.random.default_rng(seed)
        black ^= rng.random(black.shape) < speckle
    out = Image.fromarray(~black).convert("1")  # fromarray(bool) is already mode "1"
    out.info["dpi"] = dpi
    return out


def render_form(
    fields: FormFields,
    *,
    font: str = "DejaVuSans",
    size_pt: float = 11.0,
    dpi: tuple[int, int] = FINE,
    layout: Layout = "same-line",
    lines: Lines = "none",
    skew_degrees: float = 0.0,
    speckle: float = 0.0,
    header_line: str | None = HEADER,
    seed: int = 0,
) -> Image.Image:
    """A HOT-01 form page as a fax machine sends it: a 1-bit image at `dpi` (x, y).

    `speckle` is the share of pixels flipped at random (0.001 is a poor line).
    """
    page = Page(font, size_pt)
    if header_line:
        draw_header(page, header_line)
    _draw_form(page, fields, layout, lines)
    return scan(page.img, dpi, skew_degrees, speckle, seed)


def render_text_page(text: str, *, font: str = "DejaVuSerif", size_pt: float = 12.0, dpi: tuple[int, int] = FINE,
                     header_line: str | None = HEADER, seed: int = 0) -> Image.Image:  # fmt: skip
    """Any page of running text (a letter, not a form), scanned like a fax."""
    page = Page(font, size_pt)
    if header_line:
        draw_header(page, header_line)
    for line in page.wrap(text, page.right - page.left):
        page.text(page.left, line)
        page.newline()
    return scan(page.img, dpi, 0.0, 0.0, seed)


COVER_TEXT = (
    "FAKS\nDo: Centrum Wsparcia Użytkowników (hot-line)\nOd: Urząd Gminy Brzeźnica, "
    "Referat Finansowy\nLiczba stron (z tą stroną): 2\nW załączeniu przesyłamy formularz "
    "zgłoszenia pytania. Prosimy o potwierdzenie otrzymania."
)


def cover_sheet(*, dpi: tuple[int, int] = FINE, header_line: str | None = "21-11-2026 10:15  FROM +48 22 123 45 68  Page 1/2") -> Image.Image:
    """A fax cover page: addressee, sender, page count. Not a form."""
    return render_text_page(COVER_TEXT, font="LiberationSans-Regular", size_pt=13, dpi=dpi, header_line=header_line)


# --------------------------------------------------------------------------- containers
def to_g4_tiff(pages: list[Image.Image]) -> bytes:
    """A (multi-page) CCITT G4 TIFF, with each page's resolution tags."""
    frames = [p.convert("1") for p in pages]
    buf = io.BytesIO()
    first = frames[0]
    first.save(buf, format="TIFF", compression="group4", save_all=True, append_images=frames[1:],
               dpi=first.info.get("dpi", FINE))  # fmt: skip
    return buf.getvalue()


def to_image_pdf(pages: list[Image.Image], *, ccitt: bool = True) -> bytes:
    """An image-only PDF, one page per image, each image filling its page.

    With `ccitt`, each page is a CCITT G4 image (as fax gateways write them), else PNG
    (Flate). The page size follows the image's dpi, so the dpi can be computed back.
    """
    from fpdf import FPDF

    pdf = FPDF(unit="pt")
    for img in pages:
        dpi = img.info.get("dpi", FINE)
        w, h = img.width * 72 / dpi[0], img.height * 72 / dpi[1]
        pdf.add_page(format=(w, h))
        source: Image.Image | io.BytesIO = img
        if ccitt:
            source = io.BytesIO(to_g4_tiff([img]))
        pdf.image(source, x=0, y=0, w=w, h=h)
    return bytes(pdf.output())


def _text_pdf(fields: FormFields | None, values: bool) -> tuple[bytes, list[tuple[str, float, float]]]:
    """A typed HOT-01 form with fpdf2 and DejaVu; returns the PDF and each value's slot."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_font("DejaVu", fname=str(font_path("DejaVuSans")))
    pdf.add_font("DejaVu", style="B", fname=str(font_path("DejaVuSans-Bold")))
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.text(60, 70, TITLE)
    pdf.text(480, 70, CODE)
    pdf.set_font("DejaVu", "", 11)
    slots: list[tuple[str, float, float]] = []
    y = 110.0
    for key, label in LABELS.items():
        pdf.text(60, y, label)
        x = 60 + pdf.get_string_width(label) + 6
        if values and fields and x + pdf.get_string_width(getattr(fields, key)) > 540:
            x, y = 66, y + 16  # the value goes under its label when the line is full
        slots.append((key, x, y))
        if values and fields:
            pdf.text(x, y, getattr(fields, key))
        y += 22
    pdf.text(60, y + 8, QUESTION_LABEL)
    slots.append(("question", 60, y + 30))
    if values and fields:
        for i, line in enumerate(fields.question.split("\n")):
            pdf.text(66, y + 30 + 16 * i, line)
    return bytes(pdf.output()), slots


def typed_pdf(fields: FormFields) -> bytes:
    """A HOT-01 form typed in a word processor and saved as PDF: a real text layer."""
    return _text_pdf(fields, values=True)[0]


def acroform_pdf(fields: FormFields) -> bytes:
    """A fillable HOT-01 PDF (static labels as text, values in AcroForm text fields), filled in.

    fpdf2 draws the labels; pypdf adds one text-field widget per value, with /V set and
    /NeedAppearances so viewers draw them, as a form filled in a PDF reader comes out.
    """
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (ArrayObject, BooleanObject, DictionaryObject, FloatObject, NameObject,
                               NumberObject, TextStringObject)  # fmt: skip

    blank, slots = _text_pdf(None, values=False)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(blank)))
    page = writer.pages[0]
    height = float(page.mediabox.height)
    annots, refs = ArrayObject(), ArrayObject()
    for key, x, y in slots:
        value = getattr(fields, key)
        top = height - y + 12
        bottom = top - (16 * value.count("\n") + 18)
        widget = DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject(key),
            NameObject("/TU"): TextStringObject(LABELS.get(key, QUESTION_LABEL)),
            NameObject("/V"): TextStringObject(value), NameObject("/F"): NumberObject(4),
            NameObject("/Ff"): NumberObject(4096 if "\n" in value else 0),
            NameObject("/DA"): TextStringObject("/Helv 10 Tf 0 g"),
            NameObject("/Rect"): ArrayObject([FloatObject(x), FloatObject(bottom), FloatObject(560), FloatObject(top)]),
        })  # fmt: skip
        ref = writer._add_object(widget)
        annots.append(ref)
        refs.append(ref)
    page[NameObject("/Annots")] = annots
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({
        NameObject("/Fields"): refs, NameObject("/NeedAppearances"): BooleanObject(True),
    })  # fmt: skip
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- random content
FIRST = ("Jan", "Anna", "Małgorzata", "Paweł", "Grzegorz", "Łukasz", "Józef", "Zofia", "Agnieszka", "Michał",
         "Katarzyna", "Wojciech", "Jędrzej", "Elżbieta", "Bożena", "Mirosław", "Dorota", "Przemysław",
         "Krzysztof", "Urszula", "Żaneta", "Ewa", "Tomasz", "Jolanta", "Sławomir")  # fmt: skip
LAST = ("Kowalski", "Wójcik", "Dąbrowski", "Żółkiewski", "Szymański", "Woźniak", "Kozłowski", "Jabłoński",
        "Mazur", "Krawczyk", "Piątek", "Grabowski", "Zając", "Król", "Wróbel", "Kaczmarek", "Michalski",
        "Górski", "Sikora", "Ostrowski", "Baran", "Duda", "Szewczyk", "Błaszczyk", "Nowak")  # fmt: skip
PLACES = (("Łódź-Widzew", "Łodzi"), ("Żyrardów", "Żyrardowie"), ("Gniezno", "Gnieźnie"),
          ("Zielona Góra", "Zielonej Górze"), ("Kłodzko", "Kłodzku"), ("Częstochowa", "Częstochowie"),
          ("Bełchatów", "Bełchatowie"), ("Świdnik", "Świdniku"), ("Olsztyn", "Olsztynie"),
          ("Ełk", "Ełku"), ("Mińsk Mazowiecki", "Mińsku Mazowieckim"), ("Piła", "Pile"),
          ("Brzeźnica", "Brzeźnicy"), ("Sędziszów", "Sędziszowie"), ("Wąchock", "Wąchocku"))  # fmt: skip
OFFICES = ("Urząd Gminy {n}", "Urząd Miasta {n}", "Starostwo Powiatowe w {l}", "Urząd Skarbowy w {l}",
           "Miejski Ośrodek Pomocy Społecznej w {l}", "Urząd Miasta i Gminy {n}",
           "Powiatowy Urząd Pracy w {l}")  # fmt: skip
DEPTS = ("OR", "FN", "GK", "SO", "RG", "KP", "ZP", "BRM")
QUESTIONS = (
    "Jak wygenerować zestawienie należności za wrzesień w module Księgowość?",
    "Po aktualizacji do wersji 4.12 program nie drukuje deklaracji podatkowych.",
    "Przy zapisie decyzji pojawia się komunikat o błędzie połączenia z bazą danych.",
    "Proszę o informację, czy moduł Kadry obsługuje nowe stawki składek ZUS.",
    "Użytkownik z uprawnieniami kierownika nie widzi raportów swojego działu.",
    "Czy można przenieść słowniki kontrahentów z poprzedniego roku budżetowego?",
    "Wydruk upomnienia zawiera błędną datę doręczenia i źle wyliczone odsetki.",
    "Nie możemy zaimportować wyciągu bankowego w formacie MT940 z banku spółdzielczego.",
    "Jak poprawić zaksięgowaną wpłatę, która trafiła na niewłaściwe konto podatnika?",
    "Które pola są obowiązkowe w eksporcie sprawozdania Rb-27S do systemu BeSTi@?",
    "Od wczoraj logowanie kończy się komunikatem, że hasło wygasło, mimo zmiany hasła.",
    "Prosimy o pilną pomoc, ponieważ termin złożenia sprawozdania mija w piątek.",
    "Gdzie w dokumentacji opisano zamykanie roku obrachunkowego w module Płace?",
    "Czy da się ustawić automatyczne wysyłanie przypomnień o płatnościach e-mailem?",
)  # fmt: skip


def _ascii(text: str) -> str:
    table = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")
    return text.translate(table).lower()


def random_fields(rng: random.Random) -> FormFields:
    """Realistic HOT-01 content: Polish names and offices with diacritics, a 2-4 line question."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    if first.endswith("a") and last.endswith("ski"):
        last = last[:-1] + "a"
    place, loc = rng.choice(PLACES)
    office = rng.choice(OFFICES).format(n=place, l=loc)
    day, month = rng.randint(1, 28), rng.randint(1, 12)
    date = rng.choice((f"{day:02d}.{month:02d}.2026", f"2026-{month:02d}-{day:02d}", f"{day}.{month:02d}.2026 r."))
    ref = f"{rng.choice(DEPTS)}.{rng.randint(100, 9999)}.{rng.randint(1, 60)}.2026"
    if rng.random() < 0.3:
        ref = f"{rng.choice(DEPTS)}-{rng.randint(1, 9)}/{rng.randint(10, 999)}/26"
    phone = f"{rng.randint(12, 95)} {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
    email = f"{_ascii(first)[0]}.{_ascii(last)}@{_ascii(place.split()[0])}.gov.pl"
    contacts = rng.choice((f"tel. {phone}, fax {phone[:-2]}{rng.randint(10, 99)}, {email}", f"tel. {phone}, {email}",
                           f"fax {phone}", email))  # fmt: skip
    question = "\n".join(rng.sample(QUESTIONS, rng.randint(2, 4)))
    return FormFields(date, ref, f"{first} {last}", office, contacts, question)


SAMPLE = FormFields(
    date="21.11.2026",
    reference="OR.0123.45.2026",
    user_name="Małgorzata Żółkiewska",
    office="Urząd Gminy Łódź-Widzew",
    contacts="tel. 22 123 45 67, fax 22 123 45 68, jan.kowalski@urzad.gov.pl",
    question="Jak wygenerować zestawienie należności za wrzesień w module Księgowość?\n"
    "Po aktualizacji do wersji 4.12 program nie drukuje deklaracji podatkowych.",
)
