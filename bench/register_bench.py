"""Register export benchmark: a generated month of tickets (default 100,000) written straight
into a fresh store, then the real `hotline register export` of that month to a file, timed,
with the peak RSS of the command; extrapolated linearly to a million tickets.

Run as `.venv/bin/python bench/register_bench.py [--tickets N] [--url URL]` (what `make
bench` does, on SQLite). Half the tickets are answered, a third closed, one in ten paused
once (`pending`): each row computes three SLA clocks over real working-time calendars.
"""
from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from gateway import settings as config
from gateway.sla.plans import terms_for
from storage import db
from storage.models import Event, Message, Ticket, table

HOTLINE = Path(sys.executable).parent / "hotline"
MONTH = datetime(2027, 3, 1, tzinfo=timezone.utc)
OFFICES = [f"Urząd Gminy {i}" for i in range(200)]
BATCH = 5000


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
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--url", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--format", default="json", choices=["csv", "json", "html"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/bench.db"
        started = time.monotonic()
        generate(url, args.tickets)
        print(f"generated {args.tickets} tickets in {time.monotonic() - started:.1f} s")
        conf = Path(tmp) / "c.toml"
        conf.write_text(f'[storage]\nurl = "{url}"\n[logging]\nlevel = "warning"\n', encoding="utf-8")
        out = Path(tmp) / f"register.{args.format}"
        started = time.monotonic()
        subprocess.run([str(HOTLINE), "--config", str(conf), "register", "export", "--from", "2027-03-01",
                        "--to", "2027-03-31", "--format", args.format, "--out", str(out)], check=True)  # fmt: skip
        took = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"register export ({args.format}, {args.url and 'given store' or 'SQLite'}): {args.tickets} tickets in "
              f"{took:.2f} s ({args.tickets / took:,.0f} rows/s), peak RSS {peak:.0f} MiB, {out.stat().st_size / 2**20:.0f} MiB "
              f"written; a million tickets: ~{took * 1_000_000 / args.tickets:.0f} s at this rate")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
