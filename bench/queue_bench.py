"""Does e-mail wait for OCR? The real daemon meets a backlog of a 10-page fax followed by
100 plain e-mails (stored as the SMTP listener stores them) and we time how long until
the e-mails, and then the fax, are tickets.

    .venv/bin/python bench/queue_bench.py [--pages 10] [--mails 100] [--workers 2]

Prints one JSON object: seconds until all e-mails were routed, until the fax was, and the
pages read per second. Before the sweep routed e-mail ahead of OCR (gateway/intake/sweep.py),
the e-mails waited for the whole fax.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import formfactory as ff  # noqa: E402  (the test suite's form renderer)
from tests import mailfactory as mf  # noqa: E402
from tests.support import HOTLINE, store_backlog  # noqa: E402


def tickets(db: Path, channel: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM tickets WHERE channel = ?", (channel,)).fetchone()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10, help="pages of the fax ahead of the e-mails")
    parser.add_argument("--mails", type=int, default=100, help="plain e-mails queued behind it")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="[daemon] workers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotline-queue-bench-") as tmp:
        folder = Path(tmp)
        db = folder / "bench.db"
        config = folder / "bench.toml"
        config.write_text(
            f'[storage]\nurl = "sqlite:///{db}"\n[outbound]\ntransport = "maildir"\nmaildir = "{folder / "outbox"}"\n'
            f'[logging]\nformat = "json"\nlevel = "warning"\n[daemon]\nsweep_seconds = 0.5\nworkers = {args.workers}\n',
            encoding="utf-8",
        )
        subprocess.run([str(HOTLINE), "--config", str(config), "db", "upgrade"], check=True, capture_output=True)
        page = ff.render_form(ff.PHONE_ONLY)
        fax = mf.make_message(subject="Fax", sender="fax@example.pl", body="", message_id="<bench.fax@example.pl>",
                              attachments=[("fax.tif", "image/tiff", ff.to_g4_tiff([page] * args.pages))])  # fmt: skip
        mails = [mf.make_message(subject=f"Pytanie {n}", sender=f"u{n}@example.pl", message_id=f"<bench.{n}@example.pl>")
                 for n in range(args.mails)]  # fmt: skip
        store_backlog(f"sqlite:///{db}", [fax], channel="fax")
        store_backlog(f"sqlite:///{db}", mails)
        began = time.monotonic()
        daemon = subprocess.Popen([str(HOTLINE), "--config", str(config), "run"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        mails_at = fax_at = None
        try:
            while fax_at is None and time.monotonic() - began < 600:
                time.sleep(0.05)
                if mails_at is None and tickets(db, "email") >= args.mails:
                    mails_at = time.monotonic() - began
                if tickets(db, "fax") >= 1:
                    fax_at = time.monotonic() - began
        finally:
            daemon.terminate()
            daemon.wait(60)
    print(json.dumps({
        "pages": args.pages, "mails": args.mails, "workers": args.workers,
        "mails_routed_s": round(mails_at, 2) if mails_at else None,
        "fax_routed_s": round(fax_at, 2) if fax_at else None,
        "pages_per_s": round(args.pages / fax_at, 2) if fax_at else None,
    }))  # fmt: skip
    return 0 if mails_at and fax_at else 1


if __name__ == "__main__":
    sys.exit(main())
