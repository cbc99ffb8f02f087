"""parsers.refs: subject tags, our Message-IDs, and finding the ticket a message is about."""
from __future__ import annotations

import re

import pytest

from parsers.mime import parse
from parsers.refs import (
    find_ticket_number,
    tickets_named,
    make_message_id,
    subject_tag,
    ticket_number_from_subject,
    ticket_numbers_from_message_ids,
)
from tests import mailfactory as mf

DOMAIN = "hotline.example.org"
OWN = f"hotline@{DOMAIN}"


@pytest.mark.parametrize("subject", [
    "[HOT#2026-000123] Pytanie",
    "Re: [hot#2026-000123] Pytanie",
    "RE: Fwd: [HOT# 2026-000123]",
    "Odp: [ HOT #2026 - 000123 ] x",
    "[HOT-2026-000123] edited by the user",
])  # fmt: skip
def test_subject_tag_variants(subject: str) -> None:
    assert ticket_number_from_subject(subject) == "HOT-2026-000123"


@pytest.mark.parametrize("subject", ["Pytanie", "[HOT#2026-123]", "HOT-2026-000123 without brackets", "[HOT#26-000123]", ""])
def test_no_subject_tag(subject: str) -> None:
    assert ticket_number_from_subject(subject) is None


def test_first_tag_wins() -> None:
    assert ticket_number_from_subject("[HOT#2026-000001] Re: [HOT#2025-000999]") == "HOT-2026-000001"


def test_subject_tag_round_trip() -> None:
    assert subject_tag("HOT-2026-000123") == "[HOT#2026-000123]"
    assert subject_tag("hot-2026-000123") == "[HOT#2026-000123]"
    assert ticket_number_from_subject(f"Re: {subject_tag('HOT-2027-000042')} x") == "HOT-2027-000042"
    with pytest.raises(ValueError, match="not a ticket number"):
        subject_tag("2026-000123")


def test_make_message_id() -> None:
    first, second = make_message_id("HOT-2026-000123", "Hotline.Example.ORG"), make_message_id("HOT-2026-000123", DOMAIN)
    assert re.fullmatch(r"HOT-2026-000123\.[0-9a-f]{16}@hotline\.example\.org", first)
    assert first != second and "<" not in first
    assert re.fullmatch(r"hotline\.[0-9a-f]{16}@hotline\.example\.org", make_message_id(None, DOMAIN))


def test_ticket_numbers_from_our_message_ids_only() -> None:
    ids = [
        "unrelated@mail.example.pl",
        make_message_id("HOT-2026-000007", DOMAIN),
        "HOT-2026-000008.abc123@elsewhere.example.com",  # looks like ours, other domain
        f"<{make_message_id('HOT-2026-000009', DOMAIN.upper())}>",
        make_message_id("HOT-2026-000007", DOMAIN),
        make_message_id(None, DOMAIN),
        "HOT-2026-000010@hotline.example.org",  # no random part: not a format we write
    ]
    assert ticket_numbers_from_message_ids(ids, DOMAIN) == ["HOT-2026-000007", "HOT-2026-000009"]
    assert ticket_numbers_from_message_ids([], DOMAIN) == []


def test_find_by_subject_first() -> None:
    ours = make_message_id("HOT-2026-000002", DOMAIN)
    msg = parse(mf.make_message(subject="Re: [HOT#2026-000001] x", headers=[("In-Reply-To", f"<{ours}>")]))
    assert find_ticket_number(msg, OWN) == "HOT-2026-000001"


def test_find_by_in_reply_to_then_references() -> None:
    a, b = make_message_id("HOT-2026-000011", DOMAIN), make_message_id("HOT-2026-000012", DOMAIN)
    reply = parse(mf.make_message(subject="Re: zmieniony temat", headers=[
        ("In-Reply-To", f"<{b}>"), ("References", f"<x@user.pl> <{a}> <{b}>")]))  # fmt: skip
    assert find_ticket_number(reply, OWN) == "HOT-2026-000012"
    refs_only = parse(mf.make_message(subject="Re: x", headers=[("References", f"<{a}> <x@user.pl>")]))
    assert find_ticket_number(refs_only, OWN) == "HOT-2026-000011"


def test_foreign_ids_do_not_match() -> None:
    msg = parse(mf.make_message(subject="Re: x", headers=[("In-Reply-To", "<HOT-2026-000011.ab@other.example>")]))
    assert find_ticket_number(msg, OWN) is None


@pytest.mark.parametrize("full", [False, True])
def test_bounce_of_our_mail_finds_the_ticket(full: bool) -> None:
    ours = make_message_id("HOT-2026-000123", DOMAIN)
    bounce = parse(mf.dsn_bounce(ours, original_subject="Odpowiedź", attach_full_message=full))
    assert bounce.embedded_message_ids == (ours,)
    assert find_ticket_number(bounce, OWN) == "HOT-2026-000123"


def test_no_reference_at_all() -> None:
    assert find_ticket_number(parse(mf.make_message()), OWN) is None


def test_only_our_own_reply_address_routes_but_look_alikes_are_named() -> None:
    """`x+HOT-...@attacker.test` once won over everything: now it routes nowhere, yet it
    still names its ticket, so a reply carrying it beside a genuine one is ambiguous."""
    ours = make_message_id("HOT-2026-000001", DOMAIN)
    msg = parse(mf.make_message(to="x+HOT-2026-000002.aaaaaaaa@attacker.test",
                                headers=[("Cc", f"hotline+HOT-2026-000001.k3j9x2ab@{DOMAIN}"), ("In-Reply-To", f"<{ours}>")]))  # fmt: skip
    assert find_ticket_number(msg, OWN) == "HOT-2026-000001"
    assert tickets_named(msg, OWN) == ["HOT-2026-000002", "HOT-2026-000001"]
    other_base = parse(mf.make_message(to=f"support+HOT-2026-000003.aaaaaaaa@{DOMAIN}"))
    assert find_ticket_number(other_base, OWN) is None and tickets_named(other_base, OWN) == ["HOT-2026-000003"]
