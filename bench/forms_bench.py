"""Forms as users send them: fields read exactly right, per kind of document.

Run as `.venv/bin/python bench/forms_bench.py` (`make bench` runs it). The forms come from
`tests/userforms.py`, a generator written apart from the parser and from
`tests/formfactory.py`; every layout and spelling of issue 15 is in the mix. Each form is
faxed (printed in its layout and sent fine and normal through formfactory's fax losses,
a G4 TIFF from the fax gateway) or sent as an e-mail (the form typed in the body;
attached as a text-layer PDF, a DOCX, an ODT; photographed with a phone, JPEG) and read
by `parsers.reading` exactly as the gateway reads a message (first pass, OCR of the
pages in a pool, finish). `--count 40` (the default) is 160 fax forms over the two seeds.

Two seeds: `--tune-seed` is the set the parser was tuned on, `--holdout-seed` a set never
looked at while tuning. A field is right when it equals the truth (the question with
whitespace normalised; contacts as the sets of phones, faxes and addresses). Prints, per
group and seed, the share of fields right, of forms with every field right, and seconds
per page (wall, and CPU: robust to other load); `--show` prints each wrong field.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from parsers import reading  # noqa: E402
from parsers.documents import FaxLimits  # noqa: E402
from parsers.mime import ParseLimits  # noqa: E402
from tests import mailfactory as mf  # noqa: E402
from tests import userforms as uf  # noqa: E402

FAX_GATEWAY = "faxserver@example.org"
CONFIG = reading.ReadConfig(ParseLimits(), 50_000_000, frozenset({FAX_GATEWAY}), (), FaxLimits())
NOTE = "Dzień dobry,\nw załączeniu przesyłam zgłoszenie.\nPozdrawiam\n"
FIELDS = ("date", "reference", "user_name", "office", "contacts", "question")
GROUPS: dict[str, Callable[[uf.Form, int], tuple[str, str, bytes] | None]] = {
    "fine fax": lambda form, seed: ("fax.tif", "image/tiff", uf.to_fax(form, seed, "fine")),
    "normal fax": lambda form, seed: ("fax.tif", "image/tiff", uf.to_fax(form, seed, "normal")),
    "e-mail body": lambda form, seed: None,
    "PDF attachment": lambda form, seed: ("zgloszenie.pdf", "application/pdf", uf.to_pdf(form)),
    "DOCX attachment": lambda form, seed: ("zgloszenie.docx", "application/vnd.openxmlformats-officedocument."
                                                               "wordprocessingml.document", uf.to_docx(form)),
    "ODT attachment": lambda form, seed: ("zgloszenie.odt", "application/vnd.oasis.opendocument.text", uf.to_odt(form)),
    "photo (JPEG)": lambda form, seed: ("IMG_2041.jpg", "image/jpeg", uf.photographed(uf.to_image(form), seed)),
}


def message(form: uf.Form, seed: int, group: str) -> bytes:
    attached = GROUPS[group](form, seed)
    if group.endswith("fax"):  # from the fax gateway, as the gateway's mail reaches us
        return mf.make_message(subject="Fax", sender=f"Fax Server <{FAX_GATEWAY}>", body="Received a fax.\n",
                               attachments=[attached], message_id=f"<fax.{seed}@example.org>")  # fmt: skip
    if attached is None:
        return mf.make_message(subject="Zgłoszenie", body=uf.email_body(form), message_id=f"<{seed}@example.pl>")
    return mf.make_message(subject="Zgłoszenie", body=NOTE, attachments=[attached], message_id=f"<{seed}@example.pl>")


def wrong_fields(truth: uf.Truth, read: reading.Reading) -> list[tuple[str, object, object]]:
    """(field, expected, read) for each field not read exactly right."""
    form = read.form if read.form is not None and read.form.is_form else None

    def value(field: str) -> object:
        if form is None:
            return None
        if field == "date":
            return form.form_date
        if field == "contacts":
            return (set(form.return_phones), set(form.return_faxes), {e.lower() for e in form.return_emails})
        got = getattr(form, field)
        text = got.value.strip() if got is not None else ""
        return " ".join(text.split()) if field == "question" else text

    expected = {"date": truth.form_date, "reference": truth.reference, "user_name": truth.user_name,
                "office": truth.office, "contacts": (set(truth.phones), set(truth.faxes), {e.lower() for e in truth.emails}),
                "question": " ".join(truth.question.split())}  # fmt: skip
    return [(f, expected[f], value(f)) for f in FIELDS if value(f) != expected[f]]


def read_one(raw: bytes, correct: bool = True) -> tuple[reading.Reading | reading.Rejected, float, float, int]:
    """Runs in a worker: the message read as the gateway reads it; wall and CPU seconds
    (tesseract runs in the worker's process), pages. `correct=False` reads photos as they
    are (no straightening, no evening of the light)."""
    from parsers.fax import ocr_page

    started, cpu = time.monotonic(), time.process_time()
    first = reading.first_pass(raw, None, CONFIG)
    if isinstance(first, reading.Rejected):
        return first, time.monotonic() - started, time.process_time() - cpu, 0
    pages = {(d, p.number): ocr_page(p if correct else replace(p, photo=False), 60.0)
             for d, doc in enumerate(first.documents) for p in doc.images}  # fmt: skip
    read = reading.finish(first, pages)
    return read, time.monotonic() - started, time.process_time() - cpu, max(1, len(pages))


def run(pool: ProcessPoolExecutor, group: str, seed: int, count: int, show: bool,
        correct: bool = True) -> dict[str, float]:  # fmt: skip
    forms = [uf.make_form(seed * 100_000 + i) for i in range(count)]
    raws = [message(form, seed * 100_000 + i, group) for i, form in enumerate(forms)]
    right = whole = pages = 0
    seconds = cpu_seconds = 0.0
    for number, (form, (read, wall, cpu, n)) in enumerate(zip(forms, pool.map(read_one, raws, [correct] * count))):
        wrong = wrong_fields(form.truth, read) if isinstance(read, reading.Reading) else [("all", "", read)]
        right += len(FIELDS) - min(len(wrong), len(FIELDS))
        whole += not wrong
        seconds, cpu_seconds, pages = seconds + wall, cpu_seconds + cpu, pages + n
        if show:
            for name, want, got in wrong:
                print(f"  {group} seed {seed} #{number} [{form.layout}] {name}: want {want!r} got {got!r}")
    return {"fields": 100 * right / (len(FIELDS) * count), "forms": 100 * whole / count, "s/page": seconds / pages,
            "cpu s/page": cpu_seconds / pages}  # fmt: skip


def print_row(name: str, seed: int, count: int, r: dict[str, float]) -> None:
    print(f"{name:<18}{seed:>6}{count:>7}{r['fields']:>8.1f}%{r['forms']:>10.1f}%{r['s/page']:>9.2f}"
          f"{r['cpu s/page']:>12.2f}", flush=True)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=40, help="forms per group and seed")
    parser.add_argument("--photos", type=int, default=20, help="photographed forms per seed (OCR: slow)")
    parser.add_argument("--tune-seed", type=int, default=15)
    parser.add_argument("--holdout-seed", type=int, default=1515)
    parser.add_argument("--tune-only", action="store_true", help="while tuning: the tune seed only (the holdout unseen)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--group", action="append", choices=sorted(GROUPS), help="only these groups")
    parser.add_argument("--show", action="store_true")
    parser.add_argument("--photo-ablation", action="store_true", help="also read the photos uncorrected")
    args = parser.parse_args(argv)
    print(f"{'group':<18}{'seed':>6}{'forms':>7}{'fields':>9}{'all right':>11}{'s/page':>9}{'cpu s/page':>12}")
    with ProcessPoolExecutor(args.workers) as pool:
        for group in args.group or GROUPS:
            for seed in (args.tune_seed,) if args.tune_only else (args.tune_seed, args.holdout_seed):
                count = args.photos if group.startswith("photo") else args.count
                print_row(group, seed, count, run(pool, group, seed, count, args.show))
                if group.startswith("photo") and args.photo_ablation:
                    print_row("  uncorrected", seed, count, run(pool, group, seed, count, args.show, correct=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
