"""How fast the `hotline` command starts: an MTA pipes each message into `hotline ingest -`,
and an admin types `hotline --help`. Median wall time of 5 runs each, on a throw-away
SQLite store, and which heavy libraries a one-message ingest loaded.

    .venv/bin/python bench/startup_bench.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOTLINE = Path(sys.executable).parent / "hotline"
HEAVY = ("cv2", "numpy", "fpdf", "alembic", "pypdf", "PIL")


def timed(args: list[str], stdin: bytes | None = None) -> float:
    began = time.perf_counter()
    subprocess.run(args, input=stdin, capture_output=True, check=True)
    return time.perf_counter() - began


def loaded(config: Path, message: bytes) -> list[str]:
    """The heavy libraries a one-message ingest imports (python -X importtime)."""
    code = f"import sys; from gateway import cli; sys.exit(cli.main(['--config', {str(config)!r}, 'ingest', '-']))"
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", code], input=message, capture_output=True, check=True)
    names = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.decode().splitlines() if "|" in line}
    return [name for name in HEAVY if name in names]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (the median is printed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hotline-startup-") as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(
            f'[storage]\nurl = "sqlite:///{tmp}/bench.db"\n[outbound]\ntransport = "maildir"\nmaildir = "{tmp}/outbox"\n'
            '[logging]\nformat = "json"\nlevel = "warning"\n',
            encoding="utf-8",
        )
        subprocess.run([str(HOTLINE), "--config", str(config), "db", "upgrade"], check=True, capture_output=True)
        help_s = [timed([str(HOTLINE), "--help"]) for _ in range(args.runs)]
        ingest_s = []
        for n in range(args.runs):
            message = (f"From: jan{n}@example.pl\r\nTo: hotline@example.org\r\nSubject: Pytanie {n}\r\n"
                       f"Message-ID: <startup.{n}@example.pl>\r\n\r\nJak zmienić hasło?\r\n").encode()  # fmt: skip
            ingest_s.append(timed([str(HOTLINE), "--config", str(config), "ingest", "-"], message))
        heavy = loaded(config, b"From: a@example.pl\r\nSubject: x\r\n\r\ny\r\n")
    print(json.dumps({
        "runs": args.runs,
        "help_median_s": round(statistics.median(help_s), 3),
        "ingest_one_median_s": round(statistics.median(ingest_s), 3),
        "ingest_one_loads": heavy,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
