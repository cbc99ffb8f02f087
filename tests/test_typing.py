"""Type hints throughout: the package type-checks (mypy, with the pydantic plugin)."""
from __future__ import annotations

import subprocess
import sys

from tests.support import REPO


def test_package_type_checks() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "gateway", "parsers", "storage"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
