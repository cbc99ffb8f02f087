"""A command's wall time and its own peak memory, for the benches.

`ru_maxrss` of a child started straight from a bench is not the child's: Python starts it
with vfork (or fork), and Linux carries the parent's high-water mark across the exec, so a
bench that has just generated a big store reports its own size. The command is therefore
started from a small go-between process, whose own peak (a bare Python, ~10 MiB) is the
floor of what it reports.
"""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence

_GO_BETWEEN = """
import os, sys
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(command: Sequence[str]) -> tuple[float, int, int]:
    """Run `command` (its stdout read and dropped): seconds, its peak RSS in MiB, its exit code."""
    began = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _GO_BETWEEN, *command], stdout=subprocess.PIPE, text=True)
    took = time.perf_counter() - began
    peak_kib = int(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else 0
    return took, peak_kib // 1024, proc.returncode
