"""The reply log end to end, through the real `hotline` command: questions, acks, answers,
closes and reopens enter it; `register verify` catches every way of tampering with the
log file or rewriting the log; a checkpoint a user received catches a cut or rewritten log;
`register prove` gives inclusion proofs an independent verifier accepts."""
from __future__ import annotations

import base64
import email
import email.message
import email.policy
import hashlib
import html.parser
import io
import json
import mailbox
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pypdf import PdfReader
from sqlalchemy import create_engine, text

from gateway.register.merkle import Frontier, Levels, leaf_data, leaf_hash  # the attacker's tools, not the verifier's

from tests import mailfactory as mf
from tests.relay import Relay, relay  # noqa: F401  (fixture)
from tests.test_acknowledge import GATEWAY, fax_mail, form
from tests.test_consultants import NEW_TEXT, USER, commands_reply, team_config, to
from tests.support import (DaemonProcess, Hotline, a_coming_friday, consultants_config, ingest_raw, store_backlog,
                           wait_for, write_config)

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
    """Three questions received and acknowledged, one after the other: six entries; each
    acknowledgement carries the checkpoint of the log as it stood when it was rendered,
    its own question's entry included (1, 3 and 5 entries)."""
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


def inclusion_holds(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2, written from the RFC and nothing of ours."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def signed_root(checkpoint: str, verifier_key: str) -> tuple[int, bytes]:
    """The size and root of a C2SP signed note, after checking its Ed25519 signature."""
    name, key_id, key = verifier_key.split("+", 2)  # base64 may hold "+" too
    public = base64.b64decode(key)
    assert public[0] == 1 and name == ORIGIN
    body, _, signatures = checkpoint.partition("\n\n")
    stamp = base64.b64decode(signatures.removeprefix(f"\u2014 {name} ").strip())
    assert stamp[:4].hex() == key_id
    Ed25519PublicKey.from_public_bytes(public[1:]).verify(stamp[4:], (body + "\n").encode())  # raises if bad
    origin, size, root = body.split("\n")[:3]
    return int(size), base64.b64decode(root)


def test_prove_gives_inclusion_proofs_anyone_checks_with_the_public_key(logged: Hotline, tmp_path: Path) -> None:
    (ticket,) = [t["number"] for t in logged.json("tickets", "list", "--json")][1:2]
    assert ingest_raw(logged, tmp_path, question(9), "--received-at", RECEIVED_AT)["action"] == "created"
    result = logged.process("register", "prove", ticket)
    assert result.code == 0, result.err
    proof = json.loads(result.out)
    size, root = signed_root(proof["checkpoint"], proof["verifier_key"])
    assert size == len(log_lines(logged)) and [e["entry"]["kind"] for e in proof["entries"]] == ["question", "ack"]
    for item in proof["entries"]:
        canonical = json.dumps(item["entry"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        leaf = hashlib.sha256(b"\x00" + canonical).digest()
        path = [bytes.fromhex(h) for h in item["proof"]]
        assert item["entry"]["ticket"] == ticket
        assert inclusion_holds(item["index"], size, leaf, path, root)
        assert not inclusion_holds(item["index"] ^ 1, size, leaf, path, root)  # the verifier can say no
    assert logged.process("register", "prove", "HOT-2000-000001").code == 1


def consistency_holds(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2, written from the RFC and nothing of ours."""
    h = lambda left, right: hashlib.sha256(b"\x01" + left + right).digest()  # noqa: E731
    if first == second:
        return not proof and first_root == second_root
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    if not 0 < first < second or not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = h(c, fr), h(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = h(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def test_prove_shows_the_log_extends_the_checkpoint_each_users_mail_carried(logged: Hotline, tmp_path: Path) -> None:
    """Each user's acknowledgement carried the log's checkpoint when it was rendered, which
    holds the user's own question (1, 3, 5 entries); prove's consistency proof shows the
    latest tree (6 entries) extends it."""
    for n, carried in enumerate((1, 3, 5)):
        _, header = users_mail(logged, f"jan{n}@gmina.example.pl", tmp_path)
        (ticket,) = [t["number"] for t in logged.json("tickets", "list", "--json")
                     if f"jan{n}@gmina.example.pl" in t["return_emails"]]  # fmt: skip
        result = logged.process("register", "prove", ticket)
        assert result.code == 0, result.err
        proof = json.loads(result.out)
        size, root = signed_root(proof["checkpoint"], proof["verifier_key"])
        (consistency,) = proof["consistency"]
        assert consistency["checkpoint"] == header
        old_size, old_root = signed_root(header, proof["verifier_key"])
        path = [bytes.fromhex(h) for h in consistency["proof"]]
        assert (old_size, size) == (carried, 6) and consistency_holds(old_size, size, old_root, root, path)
        assert not consistency_holds(old_size, size, hashlib.sha256(old_root).digest(), root, path)  # it can say no
        assert not consistency_holds(old_size, size, old_root, root, path[::-1] + [root])


def test_tree_levels_give_proofs_the_independent_verifiers_accept() -> None:
    """Every inclusion and consistency proof of trees up to 40 leaves, from the levels built
    once (what prove does on a log of millions), checked by the verifiers written from the RFC."""
    leaves = [leaf_hash(str(i).encode()) for i in range(40)]
    levels = Levels.build(leaves)
    for size in range(1, 41):
        root = Frontier().extend(leaves[:size]).root()
        for m in range(size):
            assert inclusion_holds(m, size, leaves[m], levels.inclusion(m, size), root), (m, size)
        for old in range(1, size + 1):
            old_root = Frontier().extend(leaves[:old]).root()
            assert consistency_holds(old, size, old_root, root, levels.consistency(old, size)), (old, size)


def users_mail(hotline: Hotline, to: str, tmp: Path, part: str = "plain") -> tuple[Path, str]:
    """The acknowledgement a user received, saved as the user would keep it (its text, or
    its HTML page), and the checkpoint its X-Hotline-Checkpoint header carries."""
    maildir = mailbox.Maildir(hotline.config.parent / "outbox", create=False)
    (msg,) = [m for m in (email.message_from_bytes(bytes(m), policy=email.policy.default) for m in maildir)
              if to in str(m["To"])]  # fmt: skip
    body = msg.get_body((part,))
    assert body is not None, f"no text/{part} part"
    kept = tmp / f"kept-{to}.{part}"
    kept.write_text(body.get_content(), encoding="utf-8")
    return kept, base64.b64decode(str(msg["X-Hotline-Checkpoint"])).decode()


def test_each_acknowledgement_carries_the_checkpoint_the_log_had(logged: Hotline, tmp_path: Path) -> None:
    for n, size in enumerate((1, 3, 5)):  # the user's own question is in the tree they hold
        kept, header = users_mail(logged, f"jan{n}@gmina.example.pl", tmp_path)
        assert header.split("\n")[:2] == [ORIGIN, str(size)] and header in kept.read_text(encoding="utf-8")
        assert verify(logged, kept) == (0, "")


class Shown(html.parser.HTMLParser):
    """The text a browser shows of a page, and that of its <pre> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.text, self.pre, self.in_pre = [], [], False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.in_pre = self.in_pre or tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        self.in_pre = self.in_pre and tag != "pre"

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.in_pre:
            self.pre.append(data)


def test_the_html_part_shows_the_same_checkpoint_block(logged: Hotline, tmp_path: Path) -> None:
    """A user who reads (or saves) the HTML alternative holds the witness too: the same
    words and checkpoint as the text part, and the saved page verifies as a checkpoint."""
    for n in range(3):
        page, header = users_mail(logged, f"jan{n}@gmina.example.pl", tmp_path, "html")
        text, _ = users_mail(logged, f"jan{n}@gmina.example.pl", tmp_path)
        shown = Shown()
        shown.feed(page.read_text(encoding="utf-8"))
        assert "".join(shown.pre).strip() == header.strip()
        words = text.read_text(encoding="utf-8").split("-- \n")[-1].split("\n\n")[0].strip()  # the text's block
        assert "Punkt kontrolny rejestru" in words and words in " ".join("".join(shown.text).split())
        assert verify(logged, page) == (0, "")


def attacker(url: str, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    """Someone with the database rewrites the log consistently: entries, leaf hashes, head."""
    engine = create_engine(url)
    with engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text('SELECT * FROM reply_log ORDER BY "index"'))]
        rows = change([{**r, "entry": r["entry"] if isinstance(r["entry"], dict) else json.loads(r["entry"])}
                       for r in rows])  # fmt: skip
        frontier = Frontier()
        conn.execute(text("DELETE FROM reply_log"))
        for i, row in enumerate(rows):
            leaf = leaf_hash(leaf_data(row["entry"]))
            frontier = frontier.append(leaf)
            conn.execute(text('INSERT INTO reply_log ("index", ticket_id, kind, at, entry, leaf_hash) '
                              "VALUES (:i, :t, :k, :a, :e, :h)"),
                         {"i": i, "t": row["ticket_id"], "k": row["kind"], "a": row["at"],
                          "e": json.dumps(row["entry"]), "h": leaf.hex()})  # fmt: skip
        conn.execute(text("UPDATE reply_log_head SET size = :s, frontier = :f"),
                     {"s": frontier.size, "f": json.dumps([r.hex() for r in frontier.roots])})  # fmt: skip
    engine.dispose()


def remake_file(hotline: Hotline, tmp: Path) -> None:
    """The attacker deletes the file; the next question's commit writes it again from the database."""
    (hotline.config.parent / "replylog.jsonl").unlink()
    assert ingest_raw(hotline, tmp, question(7), "--received-at", RECEIVED_AT)["action"] == "created"


def test_a_users_checkpoint_catches_a_log_cut_short(logged: Hotline, db_url: str, tmp_path: Path) -> None:
    kept, _ = users_mail(logged, "jan2@gmina.example.pl", tmp_path)  # size 5
    attacker(db_url, lambda rows: rows[:3])  # the second answer and all after it: never happened
    remake_file(logged, tmp_path)
    assert verify(logged) == (0, "")  # consistent in itself: only a witness can tell
    code, err = verify(logged, kept)
    assert code == 1 and "checkpoint of size 5" in err and ("truncated" in err or "rewritten" in err), err


@pytest.mark.parametrize("new_key", [False, True])
def test_a_users_checkpoint_catches_a_log_rewritten_from_scratch(logged: Hotline, db_url: str, tmp_path: Path,
                                                                 new_key: bool) -> None:  # fmt: skip
    kept, _ = users_mail(logged, "jan2@gmina.example.pl", tmp_path)
    attacker(db_url, lambda rows: [rows[0], {**rows[1], "entry": {**rows[1]["entry"], "to": "someone@else"}},
                                   *rows[2:]])  # fmt: skip
    if new_key:
        make_key(tmp_path / "other-key").replace(tmp_path / "register-key")
    remake_file(logged, tmp_path)
    assert verify(logged) == (0, "")
    code, err = verify(logged, kept)
    expected = "signature" if new_key else "does not extend the checkpoint of size 5"
    assert code == 1 and expected in err, err


def test_a_key_that_is_not_ed25519_is_a_config_error_naming_the_key(sqlite_url: str, tmp_path: Path) -> None:
    rsa = tmp_path / "rsa-key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024", "-out", str(rsa)],
                   check=True, timeout=60)  # fmt: skip
    hotline = register_config(tmp_path, sqlite_url, rsa)
    for args in (("check-config",), ("register", "checkpoint")):
        result = hotline.process(*args)
        (line,) = [line for line in result.err.splitlines() if "register.key_file" in line]
        assert result.code == 2 and "not an Ed25519" in line and f"{hotline.config}: register.key_file" in line, result.err


def test_an_answer_with_close_and_severity_then_a_follow_up_enter_the_log_in_order(
    db_url: str, tmp_path: Path, relay: Relay  # noqa: F811
) -> None:
    """Through a real relay: the answer's entry holds the sha256 of the bytes the user got,
    and its text carries a checkpoint the log extends."""
    key = make_key(tmp_path / "register-key")
    extra = f'[register]\nlog = "{tmp_path / "replylog.jsonl"}"\nkey_file = "{key}"\norigin = "{ORIGIN}"\n'
    hotline = Hotline(write_config(tmp_path / "c.toml", db_url, extra + team_config(tmp_path), outbound=relay.config()))
    number, line = commands_reply(hotline, tmp_path, relay, f"#severity 2\n#close\n\n{NEW_TEXT}")
    assert line["action"] == "answered"
    ingest_raw(hotline, tmp_path, mf.make_message(subject=f"Re: [{number}] Błąd", sender=f"Jan <{USER}>",
                                                  body="Jednak nie działa.\n", message_id="<f1@gmina.example.pl>",
                                                  headers=[("In-Reply-To", "<q1@gmina.example.pl>")]))  # fmt: skip
    entries = [json.loads(line)["entry"] for line in log_lines(hotline)]
    kinds = ["question", "ack", "severity", "close", "sla", "answer", "followup", "reopen"]
    assert [e["kind"] for e in entries] == kinds
    assert {e["ticket"] for e in entries} == {number} and entries[2]["severity"] == 2
    sla = entries[4]  # frozen at the close: the answer came at once, the ack too
    assert (sla["severity"], sla["plan"], sla["at"]) == (2, "standard", entries[3]["at"])
    assert {c: v["state"] for c, v in sla["clocks"].items()} == {"ack": "met", "response": "met", "resolution": "met"}
    ack, answer = to(relay, USER)
    for sent, entry in ((ack, entries[1]), (answer, entries[5])):
        assert entry["sha256"] == hashlib.sha256(sent.as_bytes(policy=email.policy.SMTP)).hexdigest()
    kept = tmp_path / "answer.txt"
    kept.write_text(answer.get_body(("plain",)).get_content(), encoding="utf-8")
    assert verify(hotline, kept) == (0, "")


def each_once(hotline: Hotline, tmp: Path, count: int) -> None:
    """Every question and every sent acknowledgement has exactly one entry; an ack's entry
    holds the sha256 of the bytes that left (a re-send after a crash is the same bytes)."""
    rows = {r["id"]: r for r in hotline.json("outbox", "--all", "--json") if r["kind"] == "ack"}
    assert len(rows) == count and {r["state"] for r in rows.values()} == {"sent"}
    entries = [json.loads(line)["entry"] for line in log_lines(hotline)]
    acks = [e for e in entries if e["kind"] == "ack"]
    assert sorted(e["outbox_id"] for e in acks) == sorted(rows)
    sent = {hashlib.sha256(m.as_bytes(policy=email.policy.SMTP)).hexdigest() for m in maildir_of(tmp, "ack")}
    assert {e["sha256"] for e in acks} == sent
    questions = [e["message_id"] for e in entries if e["kind"] == "question"]
    assert sorted(questions) == sorted(f"q{n}@gmina.example.pl" for n in range(count))


def maildir_of(tmp: Path, kind: str) -> list[email.message.EmailMessage]:
    """The messages of a kind delivered so far into the outbox Maildir (read while the daemon writes it)."""
    found = []
    for path in sorted((tmp / "outbox").glob("[nc][eu][wr]/*")):  # new/ and cur/, never tmp/
        try:
            found.append(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
        except FileNotFoundError:  # moved from new/ to cur/ meanwhile
            continue
    return [m for m in found if m["X-Hotline-Kind"] == kind]  # type: ignore[misc]


FAKETIME_LIBRARY = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@pytest.mark.skipif(not Path(FAKETIME_LIBRARY).exists(), reason="needs libfaketime (Debian: faketime)")
def test_a_daemon_killed_while_acks_flow_logs_each_sent_message_once(db_url: str, tmp_path: Path) -> None:
    """SIGKILL in the middle of routing and sending a backlog; a second start finishes it,
    six minutes later by libfaketime's clock (the dead daemon's claims hold for five).
    Every sent acknowledgement has one entry with the sha256 of its bytes, every question
    one; the file is whole again and verifies; the auditor got one daily checkpoint."""
    key = make_key(tmp_path / "register-key")
    extra = (f'[register]\nlog = "{tmp_path / "replylog.jsonl"}"\nkey_file = "{key}"\norigin = "{ORIGIN}"\n'
             'checkpoint_to = ["auditor@example.org"]\n[daemon]\nsweep_seconds = 0.2\nworkers = 1\n')  # fmt: skip
    hotline = Hotline(write_config(tmp_path / "c.toml", db_url, extra))
    store_backlog(db_url, [question(n) for n in range(40)])
    for attempt in range(2):
        later = {"LD_PRELOAD": FAKETIME_LIBRARY, "FAKETIME": "+6m"} if attempt else {}
        daemon = DaemonProcess(hotline.config, tmp_path, env=later)
        try:
            daemon.start()
            if attempt == 0:
                wait_for(lambda: len(maildir_of(tmp_path, "ack")) >= 3, timeout=60, step=0.02)
                daemon.kill()
            else:
                wait_for(lambda: len(maildir_of(tmp_path, "ack")) >= 40, timeout=120, step=0.5)
                wait_for(lambda: not hotline.json("outbox", "--json"), timeout=30, step=0.5)  # nothing waits
                assert daemon.terminate() == 0
        finally:
            daemon.close()
    each_once(hotline, tmp_path, 40)
    copies = maildir_of(tmp_path, "checkpoint")  # a kill between delivery and commit re-sends the same message
    (daily,) = {m["Message-ID"]: m for m in copies}.values()
    kept = tmp_path / "auditor.txt"
    kept.write_text(daily.get_body(("plain",)).get_content(), encoding="utf-8")
    assert verify(hotline, kept) == (0, "")


def test_two_daemons_on_one_store_append_each_entry_once_in_commit_order(db_url: str, tmp_path: Path) -> None:
    """Two daemons route and send one backlog together: the log head's row lock gives each
    entry one index (no gap, no clash), the file follows, and everything verifies."""
    key = make_key(tmp_path / "register-key")
    extra = (f'[register]\nlog = "{tmp_path / "replylog.jsonl"}"\nkey_file = "{key}"\norigin = "{ORIGIN}"\n'
             '[daemon]\nsweep_seconds = 0.1\nworkers = 1\n')  # fmt: skip
    hotline = Hotline(write_config(tmp_path / "c.toml", db_url, extra))
    store_backlog(db_url, [question(n) for n in range(60)])
    daemons = [DaemonProcess(hotline.config, tmp_path) for _ in range(2)]
    try:
        for daemon in daemons:
            daemon.spawn()
        for daemon in daemons:
            daemon.wait_for("READY=1", 30)
        wait_for(lambda: len(maildir_of(tmp_path, "ack")) >= 60, timeout=120, step=0.5)
        wait_for(lambda: not hotline.json("outbox", "--json"), timeout=30, step=0.5)
        assert [daemon.terminate() for daemon in daemons] == [0, 0]
    finally:
        for daemon in daemons:
            daemon.close()
    each_once(hotline, tmp_path, 60)
    assert verify(hotline) == (0, "")


def test_a_faxed_acknowledgement_carries_the_checkpoint_on_its_pdf(db_url: str, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    key = make_key(tmp_path / "register-key")
    extra = (f'[register]\nlog = "{tmp_path / "replylog.jsonl"}"\nkey_file = "{key}"\norigin = "{ORIGIN}"\n'
             f'[fax]\ngateway_senders = ["{GATEWAY}"]\nsend_in_working_hours = false\n')  # fmt: skip
    hotline = Hotline(write_config(tmp_path / "c.toml", db_url, extra, outbound=relay.config()))
    ingest_raw(hotline, tmp_path, question(0))
    hotline("outbox", "--flush")
    ingest_raw(hotline, tmp_path, fax_mail(form("fax 22 123 45 68")))
    hotline("outbox", "--flush")
    faxed = relay.received[-1].message
    checkpoint = base64.b64decode(str(faxed["X-Hotline-Checkpoint"])).decode()
    (pdf,) = [p for p in faxed.iter_attachments() if p.get_content_type() == "application/pdf"]
    text = "".join(PdfReader(io.BytesIO(pdf.get_content())).pages[0].extract_text().split())
    origin, size, root = checkpoint.split("\n")[:3]
    assert (origin, size) == (ORIGIN, "3") and f"{origin}{size}{root}" in text  # the note, as printed (its question in it)
    kept = tmp_path / "fax-checkpoint.txt"
    kept.write_text(checkpoint, encoding="utf-8")
    assert verify(hotline, kept) == (0, "")
