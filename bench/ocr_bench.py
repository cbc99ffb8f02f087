"""OCR benchmark: a seeded set of rendered HOT-01 fax pages through the fax/OCR path.

Run as `.venv/bin/python bench/ocr_bench.py` (`make bench` runs it after the ingest bench).
Everything derives from the seed, so two runs over the same code read the same pixels.

What it does:

1. Renders `--count` forms (default 40) with tests/formfactory.py: half fine (204x196
   dpi), half normal (204x98); random Polish names, offices and 2-4 line questions; six
   fonts at 10-12 pt; label and value on one line or two; no lines, ruled, dotted or boxed
   values; skew within +-1.5 degrees; speckle 0-0.2 %; the fax header line. Each page is
   stored as a G4 TIFF and split with `parsers.fax.split_document`, as a fax arrives.
2. OCRs the pages with `parsers.fax.ocr_page` in a pool of `--workers` processes (default
   2: both cores busy), timing each page inside its worker.
3. Prints, for fine and normal pages separately:

   - `s/page`: mean wall seconds per page per worker (prepare + tesseract), both cores
     busy: what a fax waits, but it grows with whatever else runs on the machine;
   - `cpu s/page`: CPU seconds per page (the worker's own, plus any tesseract process it
     ran): the cost of a page, robust to other load;
   - `in text`: share of pages whose OCR text holds every field value verbatim
     (whitespace aside): what a perfect form parser could get;
   - `fields`: share of pages where `parsers.hot01.parse_form` (given the page's OCR
     confidence, as the gateway calls it) returns every field (date, znak, name,
     office, contacts, question) exactly right, whitespace aside; "not available" while
     that parser does not exist;
   - `CER q`: character error rate of the question: edit distance between the text
     after the "Treść pytania" line and the question, over the question's length;
   - `CER page`: the same over the whole page text.

`--ablate` repeats the set with each preparation step switched off (and other tesseract
settings, and plain tesseract on the raw page) and prints one row per variant: the
evidence for what `parsers.ocr.Steps` keeps. Results also go to `OUT/ocr.json`.

Measured and dropped (seed 7, 120 pages, fields fine/normal against 87/53 % then):
thickening strokes (erode 2 px) 87/32, a gamma of 2.0 or 0.6 on the grey page 75/53 and
78/50, despeckling normal pages with a 3x3 window 87/50, blur sigma 1.0/1.6/2.0 on
normal pages 45/53/37 % normal, sigma 0.5/1.1 on fine 73/78 % fine, OCR at 1.25x or
1.47x 73/47 and 75/30, psm 6 85/60 (against 93/65 with the parser fixes), lang pol
alone 82/42; the better of two preparations by confidence: 56 -> 56 fine, 39 -> 40
normal (the misreadings are the model's, not the preparation's). Cropping reads the
same as not cropping (pages with every field right, three seeded sets, 120 normal and 120
fine pages: 74 and 112 cropped, 76 and 110 not) for 0.17 s less CPU a page; single sets
swing by 15 points either way, so judge a change on --count 80+ and two seeds.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pytesseract  # noqa: E402
from PIL import Image  # noqa: E402

from parsers import fax, ocr  # noqa: E402  (after the path is set)
from tests.formfactory import FINE, FONTS, NORMAL, FormFields, random_fields, render_form, to_g4_tiff  # noqa: E402

from parsers.hot01 import edit_distance, parse_form  # noqa: E402

FIELD_NAMES = ("date", "reference", "user_name", "office", "contacts", "question")
QUESTION_LABEL = re.compile(r"^.*tre\S*\s*pyta\S*\s*$", re.IGNORECASE | re.MULTILINE)
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "no despeckle": {"despeckle": False},
    "no squaring": {"square": False},
    "no deskew": {"deskew": False},
    "no line removal": {"lines": False},
    "no crop": {"crop": False},
    "no blur": {"blur": 0.0, "blur_stretched": 0.0},
    "1-bit to tesseract": {"grey": False, "blur": 0.0, "blur_stretched": 0.0},
    "scaled to 300 dpi": {"scale": 300 / 204},
    "psm 6": {"psm": 6},
    "psm 3": {"psm": 3},
    "psm 11": {"psm": 11},
    "lang pol": {"lang": "pol"},
    "no repairs": {"repair": False},
    "no word list": {"lexicon": False},
    "tesseract run/page": {"engine": "cli"},
    "plain tesseract": {"plain": True},
}


@dataclass(frozen=True)
class Case:
    index: int
    fields: FormFields
    render: dict[str, Any]

    @property
    def mode(self) -> str:
        return "fine" if self.render["dpi"] == FINE else "normal"


@dataclass
class Outcome:
    index: int
    mode: str
    seconds: float
    cpu: float
    in_text: bool
    fields: bool
    cer_question: float
    cer_page: float
    bad_fields: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the set
def cases(count: int, seed: int) -> list[Case]:
    """The seeded set: even indexes fine, odd normal; everything else drawn at random."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        render = {"font": rng.choice(FONTS), "size_pt": rng.choice((10, 11, 12)), "dpi": FINE if i % 2 == 0 else NORMAL,
                  "layout": rng.choice(("same-line", "next-line")),
                  "lines": rng.choice(("none", "ruled", "dotted", "boxes")),
                  "skew_degrees": round(rng.uniform(-1.5, 1.5), 2),
                  "speckle": rng.choice((0.0, 0.0005, 0.001, 0.002)), "seed": seed + i}  # fmt: skip
        out.append(Case(i, random_fields(rng), render))
    return out


def fax_page(case: Case) -> fax.PageImage:
    """The case as a fax arrives: a G4 TIFF, through the cheap pass."""
    data = to_g4_tiff([render_form(case.fields, **case.render)])
    return fax.split_document(data, f"{case.index}.tif", "image/tiff", fax.FaxLimits()).images[0]


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Reading:
    seconds: float  # wall
    cpu: float  # this process and the tesseract processes it waited for
    text: str
    confidence: float | None  # mean word confidence; None: no OCR figure (plain tesseract)


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (tesseract runs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def read(job: tuple[fax.PageImage, dict[str, Any]]) -> Reading:
    """One page in a worker. The default is exactly the gateway's path."""
    page, variant = job
    start, cpu = time.perf_counter(), cpu_seconds()
    confidence: float | None = None
    if not variant:
        result = fax.ocr_page(page, 120)
        text, confidence = result.text, result.confidence
    elif variant.get("plain"):
        text = pytesseract.image_to_string(Image.open(io.BytesIO(page.png)), lang=ocr.LANG)
    else:
        steps = ocr.with_steps(**variant)
        with Image.open(io.BytesIO(page.png)) as image:
            ocred = ocr.ocr(ocr.prepare(image, page.x_dpi, page.y_dpi, steps), 120, steps)
        text, confidence = ocred.text, ocred.confidence
    return Reading(time.perf_counter() - start, cpu_seconds() - cpu, text, confidence)


def norm(text: str) -> str:
    return " ".join(text.split())


def expected_page(fields: FormFields) -> str:
    from tests.formfactory import HEADER, LABELS, QUESTION_LABEL as LABEL

    parts = [HEADER, "Zgłoszenie pytania HOT-01", *(f"{LABELS[k]} {getattr(fields, k)}" for k in LABELS), LABEL]
    return norm(" ".join([*parts, fields.question]))


def question_of(text: str, length: int) -> str:
    """The text after the "Treść pytania" line; without one, the text's last `length` chars."""
    found = list(QUESTION_LABEL.finditer(text))
    return norm(text[found[-1].end():]) if found else norm(text)[-length:]


def parsed_fields(fields: FormFields, text: str, confidence: float | None) -> tuple[bool, list[str]]:
    """Every field right by the form parser, and the wrong ones."""
    try:
        form = parse_form(text, confidence)
    except Exception as exc:  # the parser's problem, counted as a miss
        return False, [f"parse_form raised {type(exc).__name__}"]
    bad = []
    for name in FIELD_NAMES:
        got = getattr(form, name, None)
        if got is None or norm(got.value) != norm(getattr(fields, name)):
            bad.append(name)
    return not bad, bad


def score(case: Case, reading: Reading) -> Outcome:
    text = reading.text
    flat = norm(text)
    in_text = all(norm(getattr(case.fields, n)) in flat for n in FIELD_NAMES)
    question = norm(case.fields.question)
    page = expected_page(case.fields)
    ok, bad = parsed_fields(case.fields, text, reading.confidence)
    return Outcome(case.index, case.mode, reading.seconds, reading.cpu, in_text, ok,
                   edit_distance(question_of(text, len(question)), question) / len(question), edit_distance(flat, page) / len(page), bad)  # fmt: skip


# --------------------------------------------------------------------------- running
def run(pool: ProcessPoolExecutor, set_: Sequence[Case], pages: Sequence[fax.PageImage],
        variant: dict[str, Any]) -> tuple[list[Outcome], float]:  # fmt: skip
    start = time.perf_counter()
    results = list(pool.map(read, [(p, variant) for p in pages]))
    wall = time.perf_counter() - start
    return [score(c, r) for c, r in zip(set_, results)], wall


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def summarise(outcomes: list[Outcome]) -> dict[str, dict[str, float | str]]:
    out: dict[str, dict[str, float | str]] = {}
    for mode in ("fine", "normal"):
        rows = [o for o in outcomes if o.mode == mode]
        fields = mean([1.0 if o.fields else 0.0 for o in rows])
        out[mode] = {"pages": len(rows), "seconds_per_page": mean([o.seconds for o in rows]),
                     "cpu_per_page": mean([o.cpu for o in rows]),
                     "in_text": mean([1.0 if o.in_text else 0.0 for o in rows]), "fields": fields,
                     "cer_question": mean([o.cer_question for o in rows]), "cer_page": mean([o.cer_page for o in rows])}  # fmt: skip
    return out


def pct(value: float | str) -> str:
    return value if isinstance(value, str) else f"{100 * value:5.1f}%"


def print_main(summary: dict[str, dict[str, float | str]], wall: float, count: int, workers: int) -> None:
    print(f"OCR: {count} rendered HOT-01 fax pages, {workers} workers, tesseract {pytesseract.get_tesseract_version()}")
    for mode, s in summary.items():
        fields = pct(s["fields"])
        print(f"  {mode:6} pages {s['pages']:>3}  s/page {s['seconds_per_page']:.2f}  cpu s/page {s['cpu_per_page']:.2f}"
              f"  in text {pct(s['in_text'])}"
              f"  fields: {fields}  CER q {100 * float(s['cer_question']):.2f}%  CER page {100 * float(s['cer_page']):.2f}%")  # fmt: skip
    print(f"  wall {wall:.1f} s = {wall * workers / count:.2f} s per page per core")


def print_row(name: str, summary: dict[str, dict[str, float | str]]) -> None:
    f, n = summary["fine"], summary["normal"]
    print(f"  {name:20} {f['seconds_per_page']:5.2f} {n['seconds_per_page']:5.2f}  {f['cpu_per_page']:5.2f} {n['cpu_per_page']:5.2f}"
          f"  {pct(f['in_text'])} {pct(n['in_text'])}"
          f"  {pct(f['fields']):>6} {pct(n['fields']):>6}  {100 * float(f['cer_question']):5.2f}% {100 * float(n['cer_question']):5.2f}%")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ablate", action="store_true", help="also run every variant in VARIANTS")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--show", action="store_true", help="print each page's wrong fields")
    args = parser.parse_args(argv)
    set_ = cases(args.count, args.seed)
    report: dict[str, Any] = {"count": args.count, "seed": args.seed, "workers": args.workers}
    with ProcessPoolExecutor(args.workers) as pool:
        pages = list(pool.map(fax_page, set_))
        outcomes, wall = run(pool, set_, pages, {})
        summary = summarise(outcomes)
        print_main(summary, wall, args.count, args.workers)
        report["default"] = {"summary": summary, "wall": wall, "pages": [asdict(o) for o in outcomes]}
        if args.show:
            show(set_, outcomes)
        if args.ablate:
            print("  variant              s/page fine/normal  cpu s/page f/n  in text fine/normal  fields fine/normal  CER q fine/normal")
            print_row("default", summary)
            for name, variant in list(VARIANTS.items())[1:]:
                rows, _ = run(pool, set_, pages, variant)
                report[name] = {"summary": summarise(rows)}
                print_row(name, report[name]["summary"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ocr.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def show(set_: Sequence[Case], outcomes: Sequence[Outcome]) -> None:
    for case, o in zip(set_, outcomes):
        if not o.in_text or o.fields is False:
            r = case.render
            print(f"    #{o.index} {o.mode} {r['font']} {r['size_pt']}pt {r['layout']} {r['lines']} "
                  f"skew {r['skew_degrees']} speckle {r['speckle']}: in text {o.in_text}, wrong {o.bad_fields}")  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    sys.exit(main())
