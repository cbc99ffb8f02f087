"""How long `hotline register verify` takes on a big reply log: COUNT entries appended
through the gateway's own `log.append` (batches of 1,000, as routing would) into a
throw-away SQLite store, the JSON-lines file synced from it, then the real command timed
(wall time and its peak memory, from its own rusage).

    .venv/bin/python bench/replylog_bench.py [--count 1000000]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import insert

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
HOTLINE = Path(sys.executable).parent / "hotline"

from gateway.register import log, mirror  # noqa: E402
from peak import run_measured  # noqa: E402  (bench/peak.py)
from storage.db import open_store, transaction  # noqa: E402
from storage.kinds import LogKind  # noqa: E402
from storage.models import Ticket, table  # noqa: E402

BATCH = 1000
PROVED = "HOT-2026-900000"


def fill(url: str, path: Path, count: int) -> float:
    """COUNT entries, alternating questions and acks; returns the seconds it took. One
    ticket is stored, PROVED, with entries at the start, the middle and the end: the one
    `register prove` is timed on."""
    factory = open_store(url)
    began, at = time.perf_counter(), datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    with transaction(factory) as session:
        session.execute(insert(table(Ticket)).values(id=1, number=PROVED, channel="email", received_at=at))
    ours = {0, 1, count // 2, count - 1}
    for start in range(0, count, BATCH):
        records = [log.Record(1 if i in ours else None, PROVED if i in ours else f"HOT-2026-{i // 2:06d}",
                              LogKind.ACK if i % 2 else LogKind.QUESTION, at,
                              {"sha256": f"{i:064x}", "message_id": f"q{i}@gmina.example.pl"})
                   for i in range(start, min(count, start + BATCH))]  # fmt: skip
        with transaction(factory) as session:
            log.append(session, records)
    with factory() as session:
        mirror.sync(session, path)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="entries in the log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotline-register-") as tmp:
        config, logfile = Path(tmp) / "bench.toml", Path(tmp) / "replylog.jsonl"
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", f"{tmp}/key"], check=True)
        config.write_text(
            f'[storage]\nurl = "sqlite:///{tmp}/bench.db"\n[outbound]\ntransport = "maildir"\nmaildir = "{tmp}/outbox"\n'
            f'[register]\nlog = "{logfile}"\nkey_file = "{tmp}/key"\n[logging]\nformat = "json"\nlevel = "warning"\n',
            encoding="utf-8",
        )  # fmt: skip
        subprocess.run([str(HOTLINE), "--config", str(config), "db", "upgrade"], check=True, capture_output=True)
        fill_s = fill(f"sqlite:///{tmp}/bench.db", logfile, args.count)
        verify_s, peak, code = run_measured([str(HOTLINE), "--config", str(config), "register", "verify"])
        assert code == 0, "register verify failed"
        prove_s, prove_peak, code = run_measured([str(HOTLINE), "--config", str(config), "register", "prove", PROVED])
        assert code == 0, "register prove failed"
        print(json.dumps({"entries": args.count, "fill_s": round(fill_s, 1), "file_mib": logfile.stat().st_size >> 20,
                          "verify_s": round(verify_s, 2), "verify_peak_mib": peak,
                          "verify_per_million_s": round(verify_s * 1_000_000 / args.count, 1),
                          "prove_4_entries_s": round(prove_s, 2), "prove_peak_mib": prove_peak}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
