"""Does the SLA job find what is due without scanning open tickets? A throw-away PostgreSQL
(started as the test suite starts its own) holds 100,000 open tickets whose next SLA
instants spread over the coming month, a few hundred of them due now; we time the job's
due query (gateway.service.sla.due_tickets, one batch, locked as the job locks it) and
check that PostgreSQL answers it from the `ix_tickets_sla_next` index.

    .venv/bin/python bench/sla_bench.py [--tickets 100000] [--due 300] [--repeat 5]

Prints one JSON object: tickets, due, the best and worst of the timed runs in seconds,
whether the plan uses the index; exits 1 over the aim of 1 s or without the index.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from sqlalchemy import text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.service.sla import BATCH, due_tickets  # noqa: E402
from storage import db  # noqa: E402
from tests.support import postgres_cluster  # noqa: E402

AIM_SECONDS = 1.0
TERMS = json.dumps({"plan": "standard", "rank": 0, "calendars": {s: "default" for s in "1234"},
                    "targets": {s: {"ack": None, "response": 240, "resolution": 960} for s in "1234"}})  # fmt: skip

# every `step`-th ticket is due (a minute ago); the others come due over the next 30 days
FILL = """
INSERT INTO tickets (number, status, channel, subject, severity, needs_review, language, return_emails,
                     return_faxes, return_phones, created_at, received_at, plan, sla_terms, sla_sent, sla_next_at)
SELECT 'HOT-2026-' || lpad(g::text, 6, '0'), 'acknowledged', 'email', 'Pytanie ' || g, 1 + g % 4, false, 'pl',
       '[]', '[]', '[]', now(), now() - make_interval(mins => g % 10000), 'standard', CAST(:terms AS json), '{}',
       CASE WHEN g % :step = 0 THEN now() - interval '1 minute'
            ELSE now() + make_interval(mins => 1 + g % 43200) END
FROM generate_series(1, :n) AS g
"""


def fill(url: str, tickets: int, due: int) -> None:
    engine = db.make_engine(url)
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(FILL), {"terms": TERMS, "step": max(1, tickets // due), "n": tickets})
        conn.execute(text("ANALYZE tickets"))
    engine.dispose()


def time_due_query(url: str, repeat: int) -> tuple[list[float], int, str]:
    """Each run: one batch of the job's query in its own transaction, rows fetched."""
    factory = db.open_store(url)
    query = due_tickets(datetime.now(timezone.utc)).limit(BATCH).with_for_update(skip_locked=True)
    times, found = [], 0
    for _ in range(repeat):
        with factory() as session, session.begin():
            began = time.perf_counter()
            found = len(session.scalars(query).all())
            times.append(time.perf_counter() - began)
    with factory() as session:
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())
    factory.kw["bind"].dispose()
    return times, found, plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="open tickets in the store")
    parser.add_argument("--due", type=int, default=300, help="of them, due now")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of the due query")
    args = parser.parse_args()
    with postgres_cluster() as cluster:
        port = cluster.port
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE hotline_sla_bench")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/hotline_sla_bench"
        began = time.monotonic()
        fill(url, args.tickets, args.due)
        filled = time.monotonic() - began
        times, found, plan = time_due_query(url, args.repeat)
    indexed = "ix_tickets_sla_next" in plan
    print(json.dumps({"tickets": args.tickets, "due": found, "fill_s": round(filled, 1),
                      "due_query_best_s": round(min(times), 4), "due_query_worst_s": round(max(times), 4),
                      "uses_index": indexed, "aim_s": AIM_SECONDS}))  # fmt: skip
    return 0 if indexed and max(times) < AIM_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
