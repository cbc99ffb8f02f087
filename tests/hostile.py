"""Hostile but ordinary-looking input, shared by the memory tests and bench/hostile_bench.py:
mail that once made the gateway's memory explode, and the peak memory of a command fed it."""
from __future__ import annotations

import io
import random
import subprocess
import sys
import zlib

from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject, StreamObject

from tests import mailfactory as mf

POLISH_WORDS = ("zażółć", "gęślą", "jaźń", "urząd", "gminy", "sprawozdanie", "kwartalne", "błąd", "eksport",
                "użytkownik", "świadczenie", "należność", "wniosek", "decyzja", "pismo", "podatek")  # fmt: skip


def html_table(approx_bytes: int = 2_000_000) -> str:
    """One table: many short rows and one row with a long cell. A renderer that pads every
    row to the table's width makes hundreds of millions of characters out of it."""
    long_cell = "Uwaga: " + "długi opis " * 1_000
    row = "<tr><td>{n}</td><td>Faktura {n}/2026</td><td>Urząd Gminy</td><td>1 850,00 zł</td></tr>\n"
    rows = [row.format(n=n) for n in range(approx_bytes // len(row.format(n=10_000)))]
    return f"<html><body><p>Dzień dobry,</p><table>{''.join(rows)}<tr><td colspan=4>{long_cell}</td></tr></table></body></html>"


def html_table_mail(approx_bytes: int = 2_000_000, message_id: str = "<table.1@example.pl>") -> bytes:
    """An HTML-only mail with a 2 MB table (an export pasted into Outlook)."""
    return mf.make_message(subject="Zestawienie faktur", body=None, html=html_table(approx_bytes), message_id=message_id)


def polish_text(approx_chars: int, seed: int = 11) -> str:
    rng = random.Random(seed)
    lines, size = [], 0
    while size < approx_chars:
        line = " ".join(rng.choice(POLISH_WORDS) for _ in range(12)) + "\n"
        lines.append(line)
        size += len(line)
    return "".join(lines)


def big_text_mail(approx_bytes: int = 25_000_000, message_id: str = "<text.1@example.pl>") -> bytes:
    """A 25 MB plain-text mail in Polish (a log file pasted into the body), 8-bit UTF-8."""
    headers = [("From", "Jan Kowalski <jan@example.pl>"), ("To", "hotline@example.org"), ("Subject", "Log z systemu"),
               ("Message-ID", message_id), ("Date", mf.DEFAULT_DATE), ("MIME-Version", "1.0"),
               ("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "8bit")]  # fmt: skip
    return mf.raw_message(headers, polish_text(approx_bytes * 10 // 11).replace("\n", "\r\n"))


def strips_pdf(strips: int = 30, width: int = 8_000, height: int = 4_999) -> bytes:
    """One page drawn as `strips` same-width 1-bit images, each just under 40 million
    pixels: each passes a per-image check, the stacked page is 1.2 gigapixels. About 1 MB."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    xobjects = DictionaryObject()
    content = []
    blank = zlib.compress(b"\xff" * (width // 8 * height), 9)
    for i in range(strips):
        image = StreamObject()
        image._data = blank
        image.update({
            NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(width), NameObject("/Height"): NumberObject(height),
            NameObject("/ColorSpace"): NameObject("/DeviceGray"), NameObject("/BitsPerComponent"): NumberObject(1),
            NameObject("/Filter"): NameObject("/FlateDecode"),
        })  # fmt: skip
        xobjects[NameObject(f"/Im{i}")] = writer._add_object(image)
        strip_pt = 792 / strips
        content.append(f"q 612 0 0 {strip_pt:.3f} 0 {792 - (i + 1) * strip_pt:.3f} cm /Im{i} Do Q")
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): xobjects})
    stream = DecodedStreamObject()
    stream.set_data("\n".join(content).encode())
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def inline_image_pdf(width: int = 8_000, height: int = 8_000) -> bytes:
    """A page whose only image is an inline image (BI ... ID ... EI) of `width` x `height`."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    data = zlib.compress(b"\xff" * (width // 8 * height), 9)
    stream = DecodedStreamObject()
    stream.set_data(b"q 612 0 0 792 0 0 cm\nBI /W %d /H %d /CS /G /BPC 1 /F /Fl ID " % (width, height)
                    + data + b"\nEI\nQ")  # fmt: skip
    page[NameObject("/Contents")] = writer._add_object(stream)
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/ProcSet"): ArrayObject([NameObject("/PDF")])})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def fax_mail(document: bytes, gateway: str, message_id: str = "<strips.1@example.org>", document_name: str = "fax.pdf") -> bytes:
    """A fax gateway's mail carrying `document` (PDF, or TIFF by its name)."""
    kind = "image/tiff" if document_name.endswith(".tif") else "application/pdf"
    return mf.make_message(subject="Fax from +48 22 765 43 21", sender=f"Fax Server <{gateway}>",
                           body="Received a fax, see attachment.\n", message_id=message_id,
                           attachments=[(document_name, kind, document)])  # fmt: skip


# Runs a command and prints the peak RSS (KiB) of the largest process among its descendants:
# a fresh process, so that no earlier child of the caller counts.
_PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code, file=sys.stderr)\n"
)


def run_measured(args: list[str], timeout: float = 600) -> tuple[subprocess.CompletedProcess[bytes], int]:
    """`args` run to the end; its output, and the peak RSS in MiB of its largest process
    (the command itself or any worker it started: RUSAGE_CHILDREN of a fresh parent)."""
    proc = subprocess.run([sys.executable, "-c", _PEAK, *args], capture_output=True, timeout=timeout)
    *err, last = proc.stderr.decode().rstrip("\n").split("\n")
    kib, code = (int(v) for v in last.split())
    return subprocess.CompletedProcess(args, code, proc.stdout, "\n".join(err).encode()), kib // 1024
