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


def test_a_message_is_the_same_alone_or_in_a_folder(hotline: Hotline, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Files with an mbox envelope line, each ingested alone and then as one folder: the
    folder adds no ticket. Test19 differs from Test1 only in its Content-Type (the charset
    its body is read with): it is not Test1's duplicate."""
    folder = tmp_path / "folder"
    folder.mkdir()
    files = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.read_bytes().startswith(b"From "))
    assert len(files) >= 10, f"the shared corpus is missing at {CORPUS}"
    alone = []
    for path in files:
        (folder / path.name).write_bytes(path.read_bytes())
        alone.append(hotline.json("ingest", str(path)))
    test1, test19 = (alone[files.index(CORPUS / f"otobo__PostMaster-{n}.box")][0] for n in ("Test1", "Test19"))
    assert test1["action"] == "created" and test19["action"] == "created" and test19["ticket"] != test1["ticket"]
    again = hotline.json("ingest", str(folder))
    assert len(again) == len(files)  # a folder is read one message per file
    for lines, line in zip(alone, again):
        if len(lines) == 1:  # not split by the mbox reader
            assert line == {**lines[0], "action": "duplicate", "reason": line["reason"]}
    assert not {"created", "appended"} & {line["action"] for line in again}
