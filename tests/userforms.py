"""HOT-01 forms as users make them: a second generator, written from the list of what
offices really send (issue 15), independent of `tests/formfactory.py` and of the parser.

A form is drawn from a seed as a list of blocks (title lines, paragraphs, label/value rows
in one of several layouts) with the values it must be read as (`Truth`); the same blocks
are then written as an e-mail body, a DOCX (python-docx), an ODT (odfpy), a PDF with a
text layer (fpdf2), or drawn as a page image and photographed (perspective, uneven light,
JPEG). Variations: labels on the value's line, above it, in a table's left column (long
labels wrap in their cell) or small in a box; "data:" and "znak:" on one line with both
values under them; a place before the date and ten ways to write it; an empty "znak";
"HOT-01"/"HOT-1"; bold labels; "Treść pytania" with or without a colon; twelve phone
spellings, a mobile without a label, "tel./fax" for one number, the kind after the
number; e-mail labels or none, capitals in addresses; surname-first and double-barrelled
names; typographic quotes, e-mail addresses and dates inside the question; a cover note
before the form that names another person, office and date; a signature after "-- ".
"""
from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

Layout = Literal["inline", "below", "table", "boxes", "pair-row"]
LAYOUTS: tuple[Layout, ...] = ("inline", "below", "table", "boxes", "pair-row")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
MONTHS_GENITIVE = ("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września",
                   "października", "listopada", "grudnia")  # fmt: skip
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
PLACES = ("Łękołody", "Warszawa", "Mińsk Mazowiecki", "Żyrardów", "Kraków")
FIRST = ("Jan", "Anna", "Małgorzata", "Piotr", "Łukasz", "Zofia", "Grzegorz", "Ewa")
LAST = ("Nowak", "Kowalska", "Wiśniewski", "Żółkiewska", "Brzęczyszczykiewicz", "Zając", "Dąbrowska")
OFFICES = ("Urząd Gminy Łękołody", "Starostwo Powiatowe w Żyrardowie", "Urząd Miasta i Gminy w Mińsku Mazowieckim",
           "Gminny Ośrodek Pomocy Społecznej w Brzeźnicy", "Urząd Skarbowy Warszawa-Śródmieście")  # fmt: skip
DOMAINS = ("lekolody.gov.pl", "zyrardow.pl", "minsk-maz.pl", "gops.brzeznica.pl")
QUESTIONS = (
    "Jak wygenerować sprawozdanie kwartalne?",
    "Program zgłasza błąd „Brak uprawnień” przy eksporcie do PDF.",
    "Od 15.01.2026 nie działa wysyłka na adres kadry@urzad.example.pl, co robić?",
    "Proszę o informację, jak zmienić hasło użytkownika „Kierownik”.",
    "Czy aktualizacja z dnia 3 lutego 2026 r. wymaga ponownego uruchomienia serwera?",
    "Wydruk deklaracji ucina ostatnią kolumnę tabeli.",
)


@dataclass(frozen=True, slots=True)
class Truth:
    """What the form says, as the ticket must hold it."""

    form_date: date
    reference: str  # "" when the box was left empty
    user_name: str
    office: str
    phones: tuple[str, ...]  # E.164
    faxes: tuple[str, ...]
    emails: tuple[str, ...]  # as written (capitals kept: compare without case)
    question: str  # lines joined by "\n"


@dataclass(frozen=True, slots=True)
class Block:
    kind: Literal["title", "text", "row", "pair", "rule"]
    label: str = ""
    value: str = ""
    label2: str = ""  # "pair": the second label and value on the same row
    value2: str = ""


@dataclass(frozen=True, slots=True)
class Form:
    truth: Truth
    layout: Layout
    blocks: tuple[Block, ...]
    bold_labels: bool
    cover: tuple[str, ...] = field(default=())  # a covering letter printed before the form
    signature: str = ""  # an e-mail body's "-- " signature after the form


def assert_ticket_fields(t: dict[str, object], truth: Truth) -> None:
    """A ticket (`hotline tickets show --json`) holds the form's values exactly (addresses
    compared without case, the question without its line breaks)."""
    assert t["form_date"] == truth.form_date.isoformat()
    assert (t["reference"] or "", t["user_name"], t["office"]) == (truth.reference, truth.user_name, truth.office)
    assert set(t["return_phones"]) == set(truth.phones) and set(t["return_faxes"]) == set(truth.faxes)  # type: ignore[call-overload]
    assert [e.lower() for e in t["return_emails"]] == [e.lower() for e in truth.emails]  # type: ignore[attr-defined]
    assert " ".join(str(t["question"]).split()) == " ".join(truth.question.split())


# --------------------------------------------------------------------------- values
def _date_text(rng: random.Random, d: date) -> str:
    """One of ten ways offices date a letter, with or without the place and "r."."""
    styles = (
        f"{d.day:02d}.{d.month:02d}.{d.year}", f"{d.day:02d}.{d.month:02d}.{d.year} r.", f"{d.day}-{d.month:02d}-{d.year}",
        f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.year}-{d.month:02d}-{d.day:02d}", f"{d.day}.{ROMAN[d.month - 1]}.{d.year}",
        f"{d.day} {ROMAN[d.month - 1]} {d.year} r.", f"{d.day} {MONTHS_GENITIVE[d.month - 1]} {d.year} r.",
        f"{d.day} {MONTHS_GENITIVE[d.month - 1]} {d.year}", f"{d.day:02d}.{d.month:02d}.{d.year}r.",
    )  # fmt: skip
    text = rng.choice(styles)
    return f"{rng.choice(PLACES)}, dnia {text}" if rng.random() < 0.3 else text


def _phone_text(rng: random.Random, national: str) -> str:
    """A 9-digit number in one of twelve spellings seen on forms."""
    a, b, c, d = national[:2], national[2:5], national[5:7], national[7:]
    spellings = (
        f"{a} {b} {c} {d}", f"({a}) {b}-{c}-{d}", f"(0-{a}) {b}-{c}-{d}", f"0{a} {b} {c} {d}", f"0048 {a} {b} {c} {d}",
        f"+48 ({a}) {b} {c} {d}", f"+48 {a} {b}{c}{d}", national, f"{a}-{b}-{c}-{d}", f"+48{national}",
        f"(0 {a}) {b} {c} {d}", f"{a} {b}{c}{d}",
    )  # fmt: skip
    return rng.choice(spellings)


def _mobile_text(rng: random.Random, national: str) -> str:
    groups = f"{national[:3]} {national[3:6]} {national[6:]}"
    return rng.choice((groups, f"+48 {groups}", f"{national[:3]}-{national[3:6]}-{national[6:]}", national))


def _contacts(rng: random.Random, name: tuple[str, str]) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The contact line(s) as written, and the phones, faxes and addresses they name."""
    land = f"{rng.choice('2345678')}{rng.randint(2, 9)}{rng.randint(1000000, 9999999)}"
    other = land[:-2] + f"{(int(land[-2:]) + 1) % 100:02d}"
    mobile = f"{rng.choice('5678')}{rng.randint(0, 9)}{rng.randint(1000000, 9999999)}"
    local = f"{name[0][0]}.{name[1]}".translate(str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ"))
    address = f"{local if rng.random() < 0.5 else local.lower()}@{rng.choice(DOMAINS)}"
    mail = f"{rng.choice(('e-mail: ', 'mail: ', 'adres e-mail: ', 'e-mail ', ''))}{address}"
    e164 = lambda n: f"+48{n}"  # noqa: E731
    choice = rng.randrange(6)
    if choice == 0:
        parts, phones, faxes = [f"tel. {_phone_text(rng, land)}", f"fax {_phone_text(rng, other)}"], (land,), (other,)
    elif choice == 1:
        parts, phones, faxes = [f"tel./fax {_phone_text(rng, land)}"], (land,), (land,)
    elif choice == 2:
        parts, phones, faxes = [f"{_phone_text(rng, land)} (tel.)", f"{_phone_text(rng, other)} (fax)"], (land,), (other,)
    elif choice == 3:
        parts, phones, faxes = [_mobile_text(rng, mobile)], (mobile,), ()
    elif choice == 4:
        parts, phones, faxes = [f"tel. {_phone_text(rng, land)}", f"kom. {_mobile_text(rng, mobile)}"], (land, mobile), ()
    else:
        parts, phones, faxes = [], (), ()
    parts.append(mail)
    joiner = rng.choice((", ", "; ", "\n"))
    return joiner.join(parts), tuple(map(e164, phones)), tuple(map(e164, faxes)), (address,)


def truth_and_texts(rng: random.Random) -> tuple[Truth, dict[str, str]]:
    """The values of one form, and how each is written on it."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    if rng.random() < 0.25:
        last = f"{last}-{rng.choice(LAST)}"
    name = f"{last} {first}" if rng.random() < 0.25 else f"{first} {last}"
    d = date(2026, rng.randint(1, 12), rng.randint(1, 28))
    reference = "" if rng.random() < 0.15 else rng.choice(("OR.0123.45.2026", "SO.1431.7.2026", "GK-II.6840.12.2026",
                                                           "12/2026", "ADM.042.3.2026.AK"))  # fmt: skip
    contact_text, phones, faxes, emails = _contacts(rng, (first, last))
    question = "\n".join(rng.sample(QUESTIONS, rng.randint(1, 3)))
    office = rng.choice(OFFICES)
    truth = Truth(d, reference, name, office, phones, faxes, emails, question)
    return truth, {"date": _date_text(rng, d), "reference": reference, "user_name": name, "office": office,
                   "contacts": contact_text, "question": question}  # fmt: skip


# --------------------------------------------------------------------------- layout
LABELS = {"user_name": "Imię i nazwisko Użytkownika:", "office": "Nazwa Urzędu:",
          "contacts": "Zwrotny nr telefonu, faxu i/lub e-mail:"}  # fmt: skip
COVER = ("Sz. P. Tomasz Kierownik", "Urząd Wojewódzki w Radomiu", "Data: 01.02.2025",
         "W załączeniu przesyłamy zgłoszenie pytania.")  # fmt: skip


def make_form(seed: int, layout: Layout | None = None) -> Form:
    rng = random.Random(seed)
    truth, texts = truth_and_texts(rng)
    layout = layout or rng.choice(LAYOUTS)
    code = rng.choice(("HOT-01", "HOT-1", "[ HOT-01 ]"))
    title = rng.choice((f"Zgłoszenie pytania {code}", f"{code}\nZgłoszenie pytania", f"ZGŁOSZENIE PYTANIA     {code}"))
    blocks = [Block("title", value=line) for line in title.split("\n")]
    data_label, znak_label = rng.choice((("data:", "znak:"), ("Data:", "Znak:"), ("data", "znak")))
    if layout == "pair-row":
        blocks.append(Block("pair", data_label, texts["date"], znak_label, texts["reference"]))
    else:
        blocks += [Block("row", data_label, texts["date"]), Block("row", znak_label, texts["reference"])]
    blocks += [Block("row", LABELS[key], texts[key]) for key in ("user_name", "office", "contacts")]
    blocks.append(Block("row", rng.choice(("Treść pytania", "Treść pytania:")), texts["question"]))
    if rng.random() < 0.3:
        blocks.insert(len(blocks) - 1, Block("rule"))
    cover = COVER if rng.random() < 0.3 else ()
    signature = f"{truth.user_name}\n{truth.office}\ntel. 22 000 00 00" if rng.random() < 0.4 else ""
    return Form(truth, layout, tuple(blocks), rng.random() < 0.5, cover, signature)


def lines_of(form: Form) -> list[str]:
    """The form as lines of text, as typed into an e-mail or read from a text layer."""
    out = [*form.cover, ""] if form.cover else []
    for b in form.blocks:
        if b.kind == "title":
            out.append(b.value)
        elif b.kind == "rule":
            out.append("_" * 40)
        elif b.kind == "pair":
            out += [_columns(b.label, b.label2), _columns(b.value, b.value2)]
        elif form.layout in ("inline", "table"):
            first, *rest = b.value.split("\n") if b.value else [""]
            out += [f"{b.label} {first}".rstrip(), *rest]
        else:  # below, boxes: the label over its value
            out += [b.label, *b.value.split("\n")]
    return out


def _columns(left: str, right: str, width: int = 30) -> str:
    """Two values side by side, as a typist lines them up with spaces."""
    return f"{left}{' ' * max(3, width - len(left))}{right}".rstrip()


def email_body(form: Form) -> str:
    body = "\n".join(lines_of(form)) + "\n"
    return body + (f"\n-- \n{form.signature}\n" if form.signature else "")


# --------------------------------------------------------------------------- containers
def to_docx(form: Form) -> bytes:
    import docx
    from docx.shared import Pt

    document = docx.Document()
    for line in form.cover:
        document.add_paragraph(line)
    table = None
    for b in form.blocks:
        if b.kind == "title":
            document.add_paragraph().add_run(b.value).bold = True
        elif b.kind == "rule":
            document.add_paragraph("_" * 40)
        elif b.kind == "pair":
            t = document.add_table(rows=2, cols=2)
            for col, (label, value) in enumerate(((b.label, b.value), (b.label2, b.value2))):
                t.cell(0, col).paragraphs[0].add_run(label).bold = form.bold_labels
                t.cell(1, col).text = value
        elif form.layout in ("table", "boxes"):
            table = table if form.layout == "table" and table is not None else document.add_table(rows=0, cols=2 if form.layout == "table" else 1)
            row = table.add_row()
            label_cell, value_cell = (row.cells[0], row.cells[1]) if form.layout == "table" else (row.cells[0], row.cells[0])
            for k, part in enumerate(_wrapped_label(b.label) if form.layout == "table" else [b.label]):
                para = label_cell.paragraphs[0] if k == 0 else label_cell.add_paragraph()
                run = para.add_run(part)
                run.bold = form.bold_labels
                run.font.size = Pt(8 if form.layout == "boxes" else 11)
            for k, line in enumerate(b.value.split("\n")):
                para = value_cell.paragraphs[0] if k == 0 and form.layout == "table" else value_cell.add_paragraph()
                para.add_run(line)
        else:
            para = document.add_paragraph()
            para.add_run(b.label).bold = form.bold_labels
            lines = b.value.split("\n")
            if form.layout == "inline":
                para.add_run(" " + lines[0])
                lines = lines[1:]
            for line in lines:
                document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _wrapped_label(label: str) -> list[str]:
    """A long label wraps inside a narrow table cell ("... faxu" / "i/lub e-mail:")."""
    if len(label) <= 28:
        return [label]
    cut = label.rfind(" ", 0, 26)
    return [label[:cut], label[cut + 1:]]


def to_odt(form: Form) -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import P

    document = OpenDocumentText()
    body = document.text
    for line in lines_of(form) if form.layout != "table" else form.cover:
        body.addElement(P(text=line))
    if form.layout == "table":
        table = Table(name="HOT01")
        table.addElement(TableColumn(numbercolumnsrepeated=2))
        for b in form.blocks:
            row = TableRow()
            if b.kind in ("title", "rule"):
                cell = TableCell()
                cell.addElement(P(text=b.value if b.kind == "title" else "_" * 40))
                row.addElement(cell)
                row.addElement(TableCell())
            elif b.kind == "pair":
                for label, value in ((b.label, b.value), (b.label2, b.value2)):
                    cell = TableCell()
                    cell.addElement(P(text=label))
                    cell.addElement(P(text=value))
                    row.addElement(cell)
            else:
                label_cell, value_cell = TableCell(), TableCell()
                for part in _wrapped_label(b.label):
                    label_cell.addElement(P(text=part))
                for line in b.value.split("\n"):
                    value_cell.addElement(P(text=line))
                row.addElement(label_cell)
                row.addElement(value_cell)
            table.addElement(row)
        body.addElement(table)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def to_pdf(form: Form) -> bytes:
    """A text-layer PDF as a word processor saves it: labels maybe bold, long values wrapped."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_font("Sans", fname=str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("Sans", style="B", fname=str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    if form.cover:
        pdf.add_page()
        pdf.set_font("Sans", "", 12)
        for line in form.cover:
            pdf.multi_cell(0, 16, line, new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.set_margins(56, 56)
    for b in form.blocks:
        if b.kind == "title":
            pdf.set_font("Sans", "B", 14)
            pdf.multi_cell(0, 20, b.value, new_x="LMARGIN", new_y="NEXT")
            continue
        if b.kind == "rule":
            pdf.line(56, pdf.get_y() + 4, 540, pdf.get_y() + 4)
            pdf.ln(10)
            continue
        style = "B" if form.bold_labels else ""
        if b.kind == "pair":
            pdf.set_font("Sans", style, 10)
            pdf.cell(200, 14, b.label)
            pdf.cell(200, 14, b.label2, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Sans", "", 11)
            pdf.cell(200, 14, b.value)
            pdf.cell(200, 14, b.value2, new_x="LMARGIN", new_y="NEXT")
        elif form.layout == "table":
            pdf.set_font("Sans", style, 10)
            y = pdf.get_y()
            pdf.multi_cell(150, 13, b.label, border=1, new_x="LMARGIN", new_y="NEXT")
            after_label = pdf.get_y()
            pdf.set_xy(206, y)
            pdf.set_font("Sans", "", 11)
            pdf.multi_cell(0, 13, b.value, border=1, new_x="LMARGIN", new_y="NEXT")
            pdf.set_y(max(after_label, pdf.get_y()))
        elif form.layout == "inline":
            pdf.set_font("Sans", style, 11)
            width = pdf.get_string_width(b.label) + 4
            pdf.cell(width, 15, b.label)
            pdf.set_font("Sans", "", 11)
            pdf.multi_cell(0, 15, b.value, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Sans", style, 8 if form.layout == "boxes" else 11)
            pdf.multi_cell(0, 12, b.label, border="LTR" if form.layout == "boxes" else 0, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Sans", "", 11)
            pdf.multi_cell(0, 15, b.value, border="LBR" if form.layout == "boxes" else 0, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    return bytes(pdf.output())


def to_image(form: Form, dpi: int = 150):  # -> PIL.Image.Image
    """The form printed on an A4 sheet: a greyscale page image."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = round(8.27 * dpi), round(11.69 * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    size = round(11 / 72 * dpi)
    regular = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), size)
    bold = ImageFont.truetype(str(FONT_DIR / "DejaVuSans-Bold.ttf"), size)
    x, y, step = round(0.9 * dpi), round(0.9 * dpi), round(size * 1.6)
    labels = {b.label for b in form.blocks} | {b.label2 for b in form.blocks}
    for line in lines_of(form):
        font = bold if (form.bold_labels and any(line.startswith(l) for l in labels if l)) else regular
        draw.text((x, y), line, font=font, fill=20)
        y += step
    return page


def photographed(page, seed: int, tilt: float = 0.08) -> bytes:  # page: PIL.Image.Image
    """A phone's photo of the sheet on a desk: seen at an angle, lit from one side, JPEG."""
    import cv2
    import numpy as np

    rng = random.Random(seed)
    sheet = np.asarray(page, dtype=np.float32)
    h, w = sheet.shape
    out_w, out_h = round(w * 1.15), round(h * 1.1)
    jitter = lambda: rng.uniform(0.02, tilt)  # noqa: E731
    corners = np.float32([[jitter() * out_w, jitter() * out_h], [out_w * (1 - jitter()), jitter() * out_h],
                          [out_w * (1 - jitter()), out_h * (1 - jitter())], [jitter() * out_w, out_h * (1 - jitter())]])  # fmt: skip
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), corners)
    desk = cv2.warpPerspective(sheet, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=70)
    xs = np.linspace(0.0, 1.0, out_w, dtype=np.float32)[None, :]
    ys = np.linspace(0.0, 1.0, out_h, dtype=np.float32)[:, None]
    light = 0.55 + 0.45 * (1 - 0.6 * xs) * (1 - 0.3 * ys)  # brighter at the top left
    photo = np.clip(desk * light + np.random.default_rng(seed).normal(0, 4, desk.shape), 0, 255).astype(np.uint8)
    colour = cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR)
    ok, jpeg = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return jpeg.tobytes()


# --------------------------------------------------------------------------- faxes
FaxMode = Literal["fine", "normal"]
FAX_FONTS = ("DejaVuSans", "DejaVuSerif", "LiberationSans-Regular", "LiberationSerif-Regular", "DejaVuSansCondensed")
ValueLines = Literal["none", "dotted", "ruled"]


@dataclass(frozen=True, slots=True)
class FaxLook:
    """How one office's printer and fax machine render the form (drawn from the seed)."""

    font: str
    size_pt: float
    value_lines: ValueLines  # dotted or ruled lines under the values, as printed forms have
    skew_degrees: float
    speckle: float


def fax_look(seed: int) -> FaxLook:
    rng = random.Random(f"fax-{seed}")
    return FaxLook(rng.choice(FAX_FONTS), rng.choice((10, 11, 12)), rng.choice(("none", "none", "dotted", "ruled")),
                   round(rng.uniform(-1.5, 1.5), 2), rng.choice((0.0, 0.0005, 0.001, 0.002)))  # fmt: skip


def to_fax(form: Form, seed: int, mode: FaxMode) -> bytes:
    """The form printed, fed into a fax machine and received as a G4 TIFF: a cover sheet
    first when the form has one. The drawing is this module's; the losses (skew, scan
    down to fax resolution, 1 bit, speckle) are `tests.formfactory.scan`'s."""
    from tests import formfactory as ff

    look = fax_look(seed)
    pages = [_fax_cover(form, look)] if form.cover else []
    pages.append(_fax_form_page(form, look))
    dpi = ff.FINE if mode == "fine" else ff.NORMAL
    for number, page in enumerate(pages, 1):
        ff.draw_header(page, f"14-03-2026 09:41  FROM +48 22 765 43 21  Page {number}/{len(pages)}")
    return ff.to_g4_tiff([ff.scan(p.img, dpi, look.skew_degrees, look.speckle, seed + n) for n, p in enumerate(pages)])


def _fax_cover(form: Form, look: FaxLook):  # -> tests.formfactory.Page
    from tests import formfactory as ff

    page = ff.Page(look.font, look.size_pt + 1)
    page.newline(2)
    for line in form.cover:
        page.text(page.left, line)
        page.newline(1.4)
    return page


def _fax_form_page(form: Form, look: FaxLook):  # -> tests.formfactory.Page
    """The blocks drawn as the form's layout lays them out: a table with ruled cells, boxes
    with small labels on top, labels beside or over their values."""
    from tests import formfactory as ff

    page = ff.Page(look.font, look.size_pt)
    bold = ff.load_font(ff.BOLD[look.font], ff.px(look.size_pt))
    title = ff.load_font(ff.BOLD[look.font], ff.px(look.size_pt + 3))
    label_font = bold if form.bold_labels else page.font
    for b in form.blocks:
        if b.kind == "title":
            page.text(page.left, b.value, title)
            page.newline(1.5)
        elif b.kind == "rule":
            page.newline(0.3)
            page.draw.rectangle((page.left, page.y, page.right, page.y + max(2, ff.px(0.8))), fill=0)
            page.newline(0.5)
        elif b.kind == "pair":
            _fax_pair(page, b, label_font, look)
        elif form.layout == "table":
            _fax_table_row(page, b, label_font, look)
        elif form.layout == "boxes":
            _fax_box(page, b, ff.load_font(ff.BOLD[look.font] if form.bold_labels else look.font, ff.px(7.5)), look)
        else:
            _fax_row(page, b, label_font, look, form.layout == "inline")
    return page


def _under(page, x0: int, look: FaxLook) -> None:  # page: tests.formfactory.Page
    if look.value_lines != "none":
        page.rule(x0, page.right, look.value_lines)


def _fax_row(page, b: Block, label_font, look: FaxLook, inline: bool) -> None:
    """A label with its value beside it (continuation lines from the margin) or under it."""
    page.text(page.left, b.label, label_font)
    values = b.value.split("\n") if b.value else [""]
    if inline:
        x = page.left + page.width(b.label + " ", label_font)
        first = page.wrap(values[0], page.right - x)
        page.text(x, first[0])
        _under(page, x, look)
        page.newline()
        values = [*first[1:], *values[1:]] if len(first) > 1 or len(values) > 1 else []
    else:
        page.newline()
    for line in (w for v in values for w in page.wrap(v, page.right - page.left)):
        page.text(page.left, line)
        _under(page, page.left, look)
        page.newline()
    page.newline(0.4)


def _fax_pair(page, b: Block, label_font, look: FaxLook) -> None:
    """"data:" and "znak:" side by side, both values on the line under them."""
    middle = (page.left + page.right) // 2
    page.text(page.left, b.label, label_font)
    page.text(middle, b.label2, label_font)
    page.newline()
    page.text(page.left, b.value)
    page.text(middle, b.value2)
    if look.value_lines != "none":
        page.rule(page.left, middle - page.width("  "), look.value_lines)
        page.rule(middle, page.right, look.value_lines)
    page.newline(1.4)


def _fax_table_row(page, b: Block, label_font, look: FaxLook) -> None:
    """One row of a two-column table: the label wraps inside its narrow cell."""
    pad = page.width(" ")
    split = page.left + round(0.36 * (page.right - page.left))
    labels = page.wrap(b.label, round(0.85 * (split - page.left - 2 * pad)))  # measured in the regular face: room for bold
    values = [w for v in (b.value.split("\n") if b.value else [""]) for w in page.wrap(v, page.right - split - 2 * pad)]
    top = page.y - pad
    rows = max(len(labels), len(values))
    for i in range(rows):
        if i < len(labels):
            page.text(page.left + pad, labels[i], label_font)
        if i < len(values):
            page.text(split + pad, values[i])
        page.newline()
    bottom = page.y - page.line_h + page.ascent + page.descent + pad
    page.box(page.left, top, split, bottom)
    page.box(split, top, page.right, bottom)
    page.y = bottom + pad + 1


def _fax_box(page, b: Block, small, look: FaxLook) -> None:
    """A box with its label small in the top left corner and the value inside."""
    pad = page.width(" ")
    top = page.y
    page.y += pad // 2
    page.text(page.left + pad, b.label, small)
    page.y += round(small.getmetrics()[0] * 1.4)
    for line in (w for v in (b.value.split("\n") if b.value else [""]) for w in page.wrap(v, page.right - page.left - 3 * pad)):
        page.text(page.left + 2 * pad, line)
        page.newline()
    bottom = page.y - page.line_h + page.ascent + page.descent + pad
    page.box(page.left, top, page.right, bottom)
    page.y = bottom + 2 * pad
