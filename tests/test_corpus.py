"""The shared real-world corpus (../shared/corpus, not copied into the project): every
message gives exactly one JSON line, and the command finishes, on both backends."""
from __future__ import annotations

import json
from collections import Counter

from tests.support import REPO, Hotline

CORPUS = REPO.parent / "shared" / "corpus" / "mail"
ACTIONS = {"created", "appended", "duplicate", "autoreply", "bounce", "quarantined"}


def test_every_corpus_message_gives_one_outcome(hotline: Hotline) -> None:
    files = [p for p in CORPUS.iterdir() if p.is_file()]
    assert len(files) >= 300, f"the shared corpus is missing at {CORPUS}"
    result = hotline.process("ingest", str(CORPUS))
    assert result.code == 0, result.err[-2000:]
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert len(lines) == len(files)
    actions = Counter(line["action"] for line in lines)
    assert set(actions) <= ACTIONS
    assert actions["created"] > 200 and actions["bounce"] > 30 and actions["autoreply"] > 5
    assert all(line["ticket"] for line in lines if line["action"] in ("created", "appended"))
    reasons = [line["reason"] for line in lines if line["action"] == "quarantined"]
    assert all("limits." in r or "header" in r for r in reasons), reasons  # never a storage error
