"""Threading holds whatever the arrival order: a reply that arrives before its parent is
joined to the right ticket once the parent arrives (IMAP and folder order are not arrival order)."""
from __future__ import annotations

import mailbox
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import db
from storage.models import Message, Ticket
from tests import mailfactory as mf
from tests.support import Hotline, ingest_raw, show_ticket


def thread_corpus(seed: int, threads: int = 12) -> tuple[list[bytes], dict[str, str]]:
    """Messages of several threads, with replies to replies, some clients setting only In-Reply-To.

    Returns the raw messages and, for each Message-ID, the id of its thread's root."""
    rng = random.Random(seed)
    raws, root_of, refs_of = [], {}, {}
    for t in range(threads):
        root = f"root{t}@u"
        start = datetime(2026, 3, 2, 9, tzinfo=timezone.utc) + timedelta(days=t)
        raws.append(mf.make_message(subject=f"Pytanie {t}", message_id=f"<{root}>",
                                    body=f"Pytanie numer {t}\n", date=format_datetime(start)))  # fmt: skip
        root_of[root], refs_of[root] = root, []
        members = [root]
        for r in range(rng.randrange(0, 5)):
            parent = rng.choice(members)
            mid = f"t{t}r{r}@u"
            chain = [*refs_of[parent], parent]
            headers = [("In-Reply-To", f"<{parent}>")]
            if rng.random() < 0.7:
                headers.append(("References", " ".join(f"<{c}>" for c in chain)))
            when = format_datetime(start + timedelta(minutes=r + 1))
            raws.append(mf.make_message(subject=f"Re: Pytanie {t}", message_id=f"<{mid}>", date=when,
                                        body=f"Odpowiedź {r} w wątku {t}\n", headers=headers))  # fmt: skip
            root_of[mid], refs_of[mid] = root, chain
            members.append(mid)
    return raws, root_of


def partition(db_url: str) -> set[frozenset[str]]:
    engine = db.make_engine(db_url)
    groups: dict[int, set[str]] = defaultdict(set)
    with Session(engine) as s:
        live = select(Ticket.id).where(Ticket.merged_into_id.is_(None))
        for ticket_id, message_id in s.execute(select(Message.ticket_id, Message.message_id).where(Message.ticket_id.in_(live), Message.direction == "in")):
            groups[ticket_id].add(message_id)
    engine.dispose()
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("order_seed", [1, 2, 3])
def test_any_arrival_order_gives_the_same_threads(hotline: Hotline, db_url: str, tmp_path: Path, order_seed: int) -> None:
    raws, root_of = thread_corpus(seed=7)
    random.Random(order_seed).shuffle(raws)
    box = mailbox.mbox(tmp_path / "shuffled.mbox")
    for raw in raws:
        box.add(raw)
    box.close()
    lines = hotline.json("ingest", str(tmp_path / "shuffled.mbox"))
    assert len(lines) == len(raws)
    expected: dict[str, set[str]] = defaultdict(set)
    for mid, root in root_of.items():
        expected[root].add(mid)
    assert partition(db_url) == {frozenset(g) for g in expected.values()}
    for ticket in hotline.json("tickets", "list", "--json"):  # the root is the question, however late
        assert ticket["question"] == ticket["subject"].replace("Pytanie ", "Pytanie numer "), ticket


def test_a_question_without_a_date_stays_the_question_when_its_reply_comes(hotline: Hotline, tmp_path: Path) -> None:
    question = mf.make_message(subject="Test", message_id="<nodate@u>", date=None, body="Pierwsze pytanie.\n")
    reply = mf.make_message(subject="Re: Test", message_id="<reply@u>", body="Dopisuję.\n",
                            headers=[("In-Reply-To", "<nodate@u>"), ("References", "<nodate@u>")])  # fmt: skip
    number = ingest_raw(hotline, tmp_path, question)["ticket"]
    assert ingest_raw(hotline, tmp_path, reply)["ticket"] == number
    ticket = show_ticket(hotline, number)
    assert ticket["subject"] == "Test" and ticket["question"] == "Pierwsze pytanie."
    assert [(m["kind"], m["subject"]) for m in ticket["messages"] if m["direction"] == "in"] == [
        ("question", "Test"), ("followup", "Re: Test")]  # fmt: skip


def reply_to_mailing(sender: str, n: int) -> bytes:
    """A reply to a vendor's mailing that never reached us (it went to all customers)."""
    return mf.make_message(subject="Re: Nowa wersja systemu 5.2", sender=sender, message_id=f"<r{n}@u>",
                           body=f"Pytanie {n} o nową wersję.\n",
                           headers=[("In-Reply-To", "<mailing.1@vendor.example.com>"),
                                    ("References", "<mailing.1@vendor.example.com>")])  # fmt: skip


def test_replies_of_different_customers_to_one_foreign_mailing_are_separate_tickets(
        hotline: Hotline, tmp_path: Path) -> None:  # fmt: skip
    """Siblings whose parent never reached us join only from the same sender or office:
    another office's question is its own ticket, acknowledged, and answered to it alone."""
    first = ingest_raw(hotline, tmp_path, reply_to_mailing("jan@gmina-a.example.pl", 1))
    colleague = ingest_raw(hotline, tmp_path, reply_to_mailing("anna@gmina-a.example.pl", 2))
    other = ingest_raw(hotline, tmp_path, reply_to_mailing("ewa@urzad-b.example.pl", 3))
    gmail = [ingest_raw(hotline, tmp_path, reply_to_mailing(f"{who}@gmail.com", 4 + i)) for i, who in enumerate(("x", "y"))]
    assert (first["action"], colleague["action"], colleague["ticket"]) == ("created", "appended", first["ticket"])
    assert other["action"] == "created" and other["ticket"] != first["ticket"]
    assert [g["action"] for g in gmail] == ["created", "created"] and gmail[0]["ticket"] != gmail[1]["ticket"]
    ticket = show_ticket(hotline, other["ticket"])
    assert ticket["return_emails"] == ["ewa@urzad-b.example.pl"] and ticket["question"] == "Pytanie 3 o nową wersję."
    assert [m["from"] for m in show_ticket(hotline, first["ticket"])["messages"] if m["direction"] == "in"] == [
        "jan@gmina-a.example.pl", "anna@gmina-a.example.pl"]  # fmt: skip


def test_a_reply_from_another_office_to_a_message_we_hold_still_joins(hotline: Hotline, tmp_path: Path) -> None:
    """Answering a message that reached us is taking part in its thread (a colleague in Cc)."""
    question = mf.make_message(subject="Pytanie", sender="jan@gmina-a.example.pl", message_id="<q@u>")
    number = ingest_raw(hotline, tmp_path, question)["ticket"]
    reply = mf.make_message(subject="Re: Pytanie", sender="ewa@urzad-b.example.pl", message_id="<a@u>",
                            headers=[("In-Reply-To", "<q@u>")])  # fmt: skip
    assert ingest_raw(hotline, tmp_path, reply)["ticket"] == number
