"""The knowledge base: does it find the right section, and is it fast with many answers?

1. Retrieval: the documentation of tests/knowledge_set.py (a PDF user guide, an HTML admin
   guide) indexed as `hotline kb index` indexes it, and its 60 questions (20 OCR-damaged)
   ranked: recall@1 and recall@3, all and OCR-damaged.
2. Speed, on SQLite and on a throw-away PostgreSQL: `--answers` synthetic past answers
   (Zipf-distributed words, 5 of the guides' terms in each so the query terms have long
   posting lists) put in the index in bulk (gateway.knowledge.index.add_many); the
   new-ticket suggestions (gateway.knowledge.suggest: sections and answers) timed for
   each of the 60 questions: median, 95th percentile, slowest.

    .venv/bin/python bench/kb_bench.py [--answers 100000] [--stores sqlite,postgresql]

Prints one JSON object; exits 1 below the issue's aims (top 3 >= 95%, OCR top 3 >= 90%,
first >= 85%, the right section still in the top 3 among the answers) or when 5% of the
suggestions take 50 ms or more (the slowest is printed: on this shared 2-core machine one
question in 60 may meet another process's burst).
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.knowledge import build, index, suggest, terms  # noqa: E402
from storage import db  # noqa: E402
from storage.models import KbKind  # noqa: E402
from tests import knowledge_set as ks  # noqa: E402
from tests.support import postgres_cluster  # noqa: E402


def recall(factory: db.sessionmaker) -> dict[str, float]:  # type: ignore[name-defined]
    questions = ks.questions()
    with factory() as session:
        ranked = [[h.ref for h in index.search(session, q.text, KbKind.SECTION, 3)] for q in questions]
    pairs = list(zip(questions, ranked))
    ocr = [(q, r) for q, r in pairs if q.ocr]
    return {"questions": len(pairs), "recall_at_1": sum(r[:1] == [q.answer] for q, r in pairs) / len(pairs),
            "recall_at_3": sum(q.answer in r for q, r in pairs) / len(pairs),
            "ocr_recall_at_1": sum(r[:1] == [q.answer] for q, r in ocr) / len(ocr),
            "ocr_recall_at_3": sum(q.answer in r for q, r in ocr) / len(ocr)}  # fmt: skip


def fill(factory: db.sessionmaker, answers: int, seed: int = 18) -> float:  # type: ignore[name-defined]
    """`answers` past answers of ~60 words each, straight into the tables as index.add
    writes them but in batches of multi-row inserts (the per-answer path would take
    minutes); returns the seconds it took."""
    rng = random.Random(seed)
    domain = sorted({terms.stem(w) for s in ks.sections() for w in terms.words(f"{s.title} {s.text}")})
    filler = [terms.stem("".join(rng.choice("abcdefghijklmnoprstuwyz") for _ in range(rng.randint(4, 10))))
              for _ in range(30000)]  # fmt: skip
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(filler))))
    started = time.perf_counter()
    with factory.begin() as session:
        connection = session.connection()
        if connection.dialect.name == "sqlite":  # the whole index in memory: no page spilled and read back
            connection.exec_driver_sql("PRAGMA cache_size=-1000000")
        for first in range(0, answers, 5000):
            docs, found = [], []
            for doc_id in range(first + 1000, min(first + 5000, answers) + 1000):  # after the sections
                terms_of = Counter(rng.choices(filler, cum_weights=cumulative, k=55) + rng.sample(domain, 5))
                docs.append({"id": doc_id, "kind": KbKind.ANSWER, "ref": f"HOT-2026-{doc_id:06d}", "document": "",
                             "title": "", "location": "", "excerpt": " ".join(list(terms_of)[:20])})  # fmt: skip
                found.append(terms_of)
            index.add_many(connection, docs, found)
    return time.perf_counter() - started


def timed(factory: db.sessionmaker) -> list[float]:  # type: ignore[name-defined]
    times = []
    with factory() as session:
        for q in ks.questions():
            started = time.perf_counter()
            suggest.suggest(session, q.text, 0.0)
            times.append(time.perf_counter() - started)
    return times


def speed(url: str, docs: Path, answers: int) -> dict[str, float]:
    """The suggestion time on one store filled with `answers` past answers."""
    db.upgrade(db.make_engine(url))
    factory = db.open_store(url)
    build.run(factory, [str(docs)], "")
    result = {"fill_seconds": round(fill(factory, answers), 1)}
    if url.startswith("postgresql"):  # what autovacuum does soon after a bulk load: statistics, visibility map
        with factory.kw["bind"].connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE kb_terms, kb_docs, kb_stats")
    times = timed(factory)
    result["suggest_ms_median"] = round(statistics.median(times) * 1000, 1)
    result["suggest_ms_p95"] = round(statistics.quantiles(times, n=20)[-1] * 1000, 1)
    result["suggest_ms_max"] = round(max(times) * 1000, 1)
    result["recall_with_answers_at_3"] = recall(factory)["recall_at_3"]
    factory.kw["bind"].dispose()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,postgresql", help="where to time the suggestions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ks.write_docs(folder / "docs")
        url = f"sqlite:///{folder / 'docs.db'}"
        db.upgrade(db.make_engine(url))
        started = time.perf_counter()
        report = build.run(db.open_store(url), [str(folder / "docs")], "")
        result: dict[str, object] = {"sections": report.sections, "index_docs_seconds": round(time.perf_counter() - started, 2)}
        result.update(recall(db.open_store(url)))
        result["answers"] = args.answers
        stores = args.stores.split(",")
        if "sqlite" in stores:
            result["sqlite"] = speed(f"sqlite:///{folder / 'kb.db'}", folder / "docs", args.answers)
        if "postgresql" in stores:
            with postgres_cluster() as port:
                result["postgresql"] = speed(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", folder / "docs",
                                             args.answers)  # fmt: skip
    print(json.dumps(result))
    timings = [t for t in result.values() if isinstance(t, dict)]
    ok = (result["recall_at_3"] >= 0.95 and result["ocr_recall_at_3"] >= 0.90 and result["recall_at_1"] >= 0.85  # type: ignore[operator]
          and all(t["suggest_ms_p95"] < 50 and t["recall_with_answers_at_3"] >= 0.95 for t in timings))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
