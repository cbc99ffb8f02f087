"""The reply log end to end, through the real `hotline` command: questions, acks, answers,
closes and reopens enter it; `register verify` catches every way of tampering with the
log file or rewriting the log; a checkpoint a user received catches a cut or rewritten log;
`register prove` gives inclusion proofs an independent verifier accepts."""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests import mailfactory as mf
from tests.support import Hotline, a_coming_friday, consultants_config, ingest_raw, write_config

ORIGIN = "hotline.test/replylog"
RECEIVED_AT = f"{a_coming_friday().isoformat()}T10:00:00+01:00"


def make_key(path: Path) -> Path:
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(path)], check=True, timeout=30)
    return path


def register_config(tmp: Path, url: str, key: Path) -> Hotline:
    extra = f'[register]\nlog = "{tmp / "replylog.jsonl"}"\nkey_file = "{key}"\norigin = "{ORIGIN}"\n'
    return Hotline(write_config(tmp / "c.toml", url, extra + consultants_config(tmp)))


def question(n: int) -> bytes:
    return mf.make_message(subject=f"Pytanie {n}", sender=f"Jan Kowalski <jan{n}@gmina.example.pl>",
                           body=f"Dzień dobry,\nczy system {n} działa?\n", message_id=f"<q{n}@gmina.example.pl>")  # fmt: skip


@pytest.fixture
def logged(db_url: str, tmp_path: Path) -> Hotline:
    """Three questions received and acknowledged: six entries at least."""
    hotline = register_config(tmp_path, db_url, make_key(tmp_path / "register-key"))
    for n in range(3):
        assert ingest_raw(hotline, tmp_path, question(n), "--received-at", RECEIVED_AT)["action"] == "created"
    assert hotline("outbox", "--flush").code == 0
    return hotline


def log_lines(hotline: Hotline) -> list[str]:
    return (hotline.config.parent / "replylog.jsonl").read_text(encoding="utf-8").splitlines()


def test_questions_and_acks_enter_the_log_and_verify(logged: Hotline) -> None:
    lines = [json.loads(line) for line in log_lines(logged)]
    kinds = [line["entry"]["kind"] for line in lines]
    assert kinds.count("question") == 3 and kinds.count("ack") == 3, kinds
    assert [line["index"] for line in lines] == list(range(len(lines)))
    result = logged.process("register", "verify")
    assert result.code == 0, result.err
    assert f"{len(lines)} entries" in result.out


def verify(hotline: Hotline, *checkpoints: Path) -> tuple[int, str]:
    result = hotline.process("register", "verify", *[a for c in checkpoints for a in ("--checkpoint", str(c))])
    return result.code, result.err.strip()


def rewrite_file(hotline: Hotline, change: Callable[[list[str]], list[str]]) -> None:
    path = hotline.config.parent / "replylog.jsonl"
    path.write_text("".join(line + "\n" for line in change(log_lines(hotline))), encoding="utf-8")


def altered(line: str, **facts: str) -> str:
    data = json.loads(line)
    data["entry"].update(facts)
    return json.dumps(data, ensure_ascii=False)


def rehashed(line: str) -> str:
    """An entry altered with its leaf hash made to match: only the database can tell."""
    data = json.loads(line)
    canonical = json.dumps(data["entry"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    data["leaf_hash"] = hashlib.sha256(b"\x00" + canonical).hexdigest()
    return json.dumps(data, ensure_ascii=False)


TAMPERING = {
    "altered": (lambda ls: [*ls[:2], altered(ls[2], sha256="0" * 64), *ls[3:]],
                "entry 2: altered in the log file"),
    "altered and rehashed": (lambda ls: [*ls[:2], rehashed(altered(ls[2], to="eve@example.org")), *ls[3:]],
                             "entry 2: the log file and the database disagree"),
    "deleted": (lambda ls: [*ls[:2], *ls[3:]], "log file line 3: entry 3 where 2 was expected"),
    "inserted": (lambda ls: [*ls[:2], ls[1], *ls[2:]], "log file line 3: entry 1 where 2 was expected"),
    "reordered": (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], "log file line 2: entry 2 where 1 was expected"),
    "truncated": (lambda ls: ls[:-2], "missing from the log file"),
    "appended": (lambda ls: [*ls, rehashed(altered(ls[-1], kind="close")).replace(
        f'"index": {len(ls) - 1}', f'"index": {len(ls)}')], "not in the database"),
}  # fmt: skip


@pytest.mark.parametrize("how", TAMPERING)
def test_verify_names_the_entry_of_each_tampering_with_the_file(logged: Hotline, how: str) -> None:
    change, expected = TAMPERING[how]
    assert verify(logged) == (0, "")
    rewrite_file(logged, change)
    code, err = verify(logged)
    assert code == 1 and expected in err, err
    assert err.count("\n") == 0  # one line
