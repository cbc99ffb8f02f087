"""Two daemons on one PostgreSQL versus one: how fast IMAP mail becomes tickets.

One mbox (bench/ingest_bench.py's generator, replies and threads included) is split over
two mailboxes of a throw-away Dovecot; for one daemon and then for two (`hotline run`,
sharing a throw-away PostgreSQL, outgoing mail to a Maildir), the mailboxes are filled,
the daemons started, and the time until every message is stored, routed and out of the
mailboxes is measured (daemon start-up included; with two, the first takes both mailboxes
and gives one to the other once they have seen each other: a short lease makes that quick).

    .venv/bin/python bench/several_bench.py [--count 1000] [--seed 2026] [--workers 1]

Prints one JSON object with both runs side by side: messages per second, seconds, and
which daemon held which mailbox lease.
"""
from __future__ import annotations

import argparse
import json
import mailbox
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ingest_bench import generate  # noqa: E402  (the ingest bench's mail)
from tests.dovecot import DovecotServer, running_dovecot  # noqa: E402
from tests.support import HOTLINE, free_port, postgres_cluster  # noqa: E402

FOLDERS = ("north", "south")
TIMEOUT = 900.0
LEASE = 3  # seconds: the second daemon gets its mailbox within a few, not within the default 30 s


def config(folder: Path, url: str, dovecot: DovecotServer, run: str, workers: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "imap-password"
    secret.write_text(dovecot.password)
    accounts = "".join(
        f'[[imap]]\nname = "{name}"\nhost = "127.0.0.1"\nport = {dovecot.port}\nsecurity = "none"\n'
        f'username = "{dovecot.user}"\npassword_file = "{secret}"\nfolder = "{run}-{name}"\ndone = "move:{run}-done"\n'
        for name in FOLDERS
    )
    path = folder / "bench.toml"
    path.write_text(f'[storage]\nurl = "{url}"\n[outbound]\ntransport = "maildir"\nmaildir = "{folder / "outbox"}"\n'
                    f'[logging]\nformat = "json"\nlevel = "warning"\n{accounts}'
                    f'[daemon]\nsweep_seconds = 0.5\nworkers = {workers}\nlease_seconds = {LEASE}\n[metrics]\nlisten = "127.0.0.1:{free_port()}"\n')  # fmt: skip
    return path


def unrouted(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FILTER (WHERE state = 'new'), count(*) FROM inbox").fetchone()
    assert row is not None
    return int(row[0]) + (0 if row[1] else 1)  # nothing stored yet counts as waiting


def one_run(daemons: int, raws: list[bytes], dovecot: DovecotServer, port: int, tmp: Path, workers: int) -> dict[str, Any]:
    run = f"run{daemons}"
    with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {run}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/{run}"
    configs = [config(tmp / f"{run}-{n}", url, dovecot, run, workers) for n in range(daemons)]
    subprocess.run([str(HOTLINE), "--config", str(configs[0]), "db", "upgrade"], check=True, capture_output=True)
    with dovecot.client() as client:
        for name in FOLDERS:
            client.create_folder(f"{run}-{name}")
    for index, name in enumerate(FOLDERS):
        dovecot.deliver_many(raws[index :: len(FOLDERS)], folder=f"{run}-{name}")
    began = time.monotonic()
    procs = [subprocess.Popen([str(HOTLINE), "--config", str(c), "run"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for c in configs]  # fmt: skip
    try:
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname={run}", autocommit=True) as conn:
            while time.monotonic() - began < TIMEOUT:
                time.sleep(0.1)
                left = sum(dovecot.count(f"{run}-{name}") for name in FOLDERS)
                if left == 0 and unrouted(conn) == 0:
                    break
            seconds = time.monotonic() - began
            holders = conn.execute("SELECT account, owner FROM mailbox_leases ORDER BY account").fetchall()
            stored = conn.execute("SELECT count(*) FROM inbox").fetchone()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
    pids = {str(p.pid): f"daemon {n + 1}" for n, p in enumerate(procs)}
    return {"daemons": daemons, "messages": len(raws), "stored": stored[0] if stored else 0,
            "seconds": round(seconds, 2), "messages_per_s": round(len(raws) / seconds, 1),
            "leases": {account: pids.get(owner.rpartition(":")[2], owner) for account, owner in holders}}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="messages in the mbox")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=1, help="[daemon] workers of each daemon")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotline-several-bench-") as name:
        tmp = Path(name)
        generate(args.seed, args.count, tmp / "bench.mbox")
        raws = [message.as_bytes() for message in mailbox.mbox(tmp / "bench.mbox")]
        with postgres_cluster() as cluster, running_dovecot() as dovecot:
            runs = [one_run(n, raws, dovecot, cluster.port, tmp, args.workers) for n in (1, 2)]
    print(json.dumps({"one": runs[0], "two": runs[1]}))
    return 0 if all(r["stored"] == r["messages"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
