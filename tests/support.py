"""Helpers shared by the tests: the `hotline` command run in-process or as a real process."""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway import cli

REPO = Path(__file__).resolve().parent.parent
HOTLINE = Path(sys.executable).parent / "hotline"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


class Hotline:
    """Runs `hotline` against one test's config: in-process by default, or as a real process."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def __call__(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["--config", str(self.config), *args])
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
        return Result(code, out.getvalue(), err.getvalue())

    def process(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run(
            [str(HOTLINE), "--config", str(self.config), *args],
            input=stdin,
            capture_output=True,
            timeout=120,
            env={**os.environ, **(env or {})},
        )
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def json(self, *args: str) -> list[dict[str, Any]]:
        result = self(*args)
        assert result.code == 0, result.err
        return result.json_lines()


def write_config(path: Path, url: str, extra: str = "") -> Path:
    path.write_text(
        f"""
[storage]
url = "{url}"

[outbound]
transport = "maildir"
maildir = "{path.parent / 'outbox'}"
from = "Hot-line <hotline@example.org>"

[logging]
format = "json"
level = "warning"
{extra}
""",
        encoding="utf-8",
    )
    return path
