"""Register export benchmark: a generated month of tickets (default 100,000) written straight
into a fresh store, SQLite and a throw-away PostgreSQL, then the real `hotline register
export` of that month to a file, timed, with the command's own peak RSS; extrapolated
linearly to a million tickets.

Beside it, the floor no Python export goes under: the seconds the database driver alone
takes to stream the same tickets with their question text (a raw cursor, server-side on
PostgreSQL), and the seconds the csv module takes to write that many rows of plain cells.

Run as `.venv/bin/python bench/register_bench.py [--tickets N] [--store sqlite|postgresql]`
(what `make bench` does, both stores). Half the tickets are answered, a third closed, one in
ten paused once (`pending`): each row computes three SLA clocks over real working-time
calendars. One JSON line per store.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
HOTLINE = Path(sys.executable).parent / "hotline"

import psycopg  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from gateway import settings as config  # noqa: E402
from gateway.register.export import CSV_HEADER  # noqa: E402
from gateway.sla.plans import terms_for  # noqa: E402
from storage import db  # noqa: E402
from storage.models import Event, Message, Ticket, table  # noqa: E402
from peak import run_measured  # noqa: E402  (bench/peak.py)
from tests.support import postgres_cluster  # noqa: E402

MONTH = datetime(2027, 3, 1, tzinfo=timezone.utc)
OFFICES = [f"Urząd Gminy {i}" for i in range(200)]
BATCH = 5000
# what the export reads of each ticket: its columns and its question's text
FLOOR_QUERY = """SELECT t.id, t.number, t.channel, t.received_at, t.effective_received_at, t.user_name, t.office,
       t.subject, t.first_answer_at, t.status, t.severity, t.plan, t.acked_at, t.closed_at, t.sla_terms, m.text
FROM tickets t JOIN messages m ON m.ticket_id = t.id AND m.kind = 'question'
WHERE t.received_at >= '2027-02-28' ORDER BY t.received_at, t.id"""


def generate(url: str, count: int, seed: int = 14) -> None:
    """`count` tickets received over March 2027, with their question, answer and events."""
    rnd = random.Random(seed)
    terms = terms_for(config.SlaSection(), [], None).json()
    engine = db.make_engine(url)
    db.upgrade(engine)
    with engine.begin() as conn:
        for start in range(0, count, BATCH):
            tickets, messages, events = [], [], []
            for i in range(start, min(count, start + BATCH)):
                received = MONTH + timedelta(seconds=rnd.randrange(31 * 86400))
                answered = received + timedelta(hours=rnd.uniform(1, 60)) if i % 2 == 0 else None
                closed = answered + timedelta(hours=rnd.uniform(1, 100)) if answered and i % 3 == 0 else None
                tickets.append({"id": i + 1, "number": f"HOT-2027-{i + 1:06d}", "status": "closed" if closed else
                                "answered" if answered else "acknowledged", "channel": "email" if i % 5 else "fax",
                                "subject": f"Pytanie {i}", "severity": rnd.choice((2, 3, 4, 4)), "user_name": f"Jan {i}",
                                "office": rnd.choice(OFFICES), "received_at": received, "effective_received_at": received,
                                "acked_at": received + timedelta(hours=2), "first_answer_at": answered,
                                "closed_at": closed, "plan": "standard", "sla_terms": terms})  # fmt: skip
                messages.append({"ticket_id": i + 1, "direction": "in", "kind": "question", "channel": "email",
                                 "message_id": f"<q{i}@example.pl>", "at": received,
                                 "text": "Jak wyeksportować sprawozdanie do PDF? " * 8})  # fmt: skip
                if answered:
                    messages.append({"ticket_id": i + 1, "direction": "out", "kind": "answer", "channel": "email",
                                     "message_id": f"<a{i}@example.org>", "at": answered,
                                     "text": "Proszę wybrać Raporty > Eksport i zaznaczyć PDF/A. " * 4})  # fmt: skip
                if i % 10 == 1:
                    events += [{"ticket_id": i + 1, "at": received + timedelta(hours=3), "actor": "anna", "kind": "pending", "data": {}},
                               {"ticket_id": i + 1, "at": received + timedelta(hours=20), "actor": "user", "kind": "followup", "data": {}}]  # fmt: skip
                if closed:
                    events.append({"ticket_id": i + 1, "at": closed, "actor": "anna", "kind": "close", "data": {}})
            conn.execute(insert(table(Ticket)), tickets)
            conn.execute(insert(table(Message)), messages)
            if events:
                conn.execute(insert(table(Event)), events)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def export(url: str, tmp: Path, fmt: str) -> tuple[float, int, int]:
    """The real command on the month: seconds, its own peak RSS in MiB, bytes written."""
    conf, out = tmp / "c.toml", tmp / f"register.{fmt}"
    conf.write_text(f'[storage]\nurl = "{url}"\n[logging]\nlevel = "warning"\n', encoding="utf-8")
    took, peak, code = run_measured([str(HOTLINE), "--config", str(conf), "register", "export", "--from", "2027-03-01",
                                     "--to", "2027-03-31", "--format", fmt, "--out", str(out)])  # fmt: skip
    assert code == 0, "register export failed"
    return took, peak, out.stat().st_size


def floor(url: str) -> tuple[float, float]:
    """Seconds to stream the tickets with the driver alone; seconds to write as many rows of
    plain cells with the csv module (the export's columns, to memory)."""
    engine = db.make_engine(url)
    raw = engine.raw_connection()
    count, sample, began = 0, tuple[Any, ...](), time.perf_counter()
    cursor = raw.cursor(name="floor") if isinstance(raw.driver_connection, psycopg.Connection) else raw.cursor()
    cursor.execute(FLOOR_QUERY)
    while batch := cursor.fetchmany(1000):
        count, sample = count + len(batch), sample or tuple(batch[0])
    read = time.perf_counter() - began
    cursor.close()
    raw.close()
    engine.dispose()
    began = time.perf_counter()
    writer = csv.writer(io.StringIO())
    writer.writerow(CSV_HEADER)
    cells = [str(c) for c in sample] + [""] * (len(CSV_HEADER) - len(sample))
    for _ in range(count):
        writer.writerow(cells)
    return read, time.perf_counter() - began


@contextmanager
def store(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh SQLite file, or a database on a throw-away PostgreSQL cluster (loopback)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/bench.db"
        return
    with postgres_cluster() as port:
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE hotline_register_bench")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/hotline_register_bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--store", action="append", choices=["sqlite", "postgresql"], help="default: both")
    parser.add_argument("--format", default="csv", choices=["csv", "json", "html"])
    args = parser.parse_args()
    for kind in args.store or ["sqlite", "postgresql"]:
        with tempfile.TemporaryDirectory(prefix="hotline-register-") as tmp, store(kind, Path(tmp)) as url:
            began = time.perf_counter()
            generate(url, args.tickets)
            generated = time.perf_counter() - began
            took, peak, size = export(url, Path(tmp), args.format)
            read, write = floor(url)
        per_million = 1_000_000 / args.tickets
        print(json.dumps({"store": kind, "tickets": args.tickets, "format": args.format, "generate_s": round(generated, 1),
                          "export_s": round(took, 2), "rows_per_s": round(args.tickets / took),
                          "peak_rss_mib": peak, "written_mib": round(size / 2**20),
                          "million_s": round(took * per_million), "floor_read_s": round(read, 2),
                          "floor_csv_s": round(write, 2), "floor_million_s": round((read + write) * per_million, 1)}),
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
