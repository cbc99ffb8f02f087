"""The sender's fax number from the subjects and metadata lines real fax gateways write:
the number is read, whatever page count, date or id follows it."""
from __future__ import annotations

import pytest

from parsers.callerid import DEFAULT_PATTERNS, caller_id, compile_patterns
from parsers.mime import parse
from tests import mailfactory as mf

PATTERNS = compile_patterns(DEFAULT_PATTERNS)


@pytest.mark.parametrize(("subject", "number"), [
    ("Fax from +48 22 555 12 34 (1 page)", "+48225551234"),  # the case
    ("facsimile received from +48 22 555 12 34", "+48225551234"),  # HylaFAX faxrcvd
    ("Facsimile received from 22 555 12 34 (2 pages)", "+48225551234"),
    ("New fax from +48225551234, 2 pages", "+48225551234"),  # Asterisk ReceiveFAX / FreePBX fax-to-mail
    ("New fax from: +48 22 555 12 34 - 3 pages", "+48225551234"),
    ("Fax from 0048225551234 [Page 1/2]", "+48225551234"),  # T.38 gateways that mail page by page
    ("Fax von 022 555 12 34 an 22 555 00 00, 2 Seiten", "+48225551234"),  # FRITZ!Box
    ("Faxnachricht von +48 22 555-12-34 (3 Seiten)", "+48225551234"),  # Fax.de
    ('eFax message from "+48 22 555 12 34" - 2 page(s), Caller-ID: +48225551234', "+48225551234"),  # eFax
    ("Fax received from +48 (0) 22 555 12 34 ID: 4711", "+48225551234"),  # Microsoft Fax routing
    ("Fax from +48225551234 02.03.2026 10:15", "+48225551234"),  # Cisco T.37 onramp with a date
    ("Fax from +49 211 5800 1234 2026-03-02 10:15:00", "+4921158001234"),
    ("Fax von +49 211 58001234 (2 Seiten)", "+4921158001234"),  # sipgate
    ("Faks od 22 555 12 34  2 str.", "+48225551234"),  # Polish gateways
    ("Faks z numeru (22) 555 12 34, 1 strona", "+48225551234"),
    ("Nowy faks od: 225551234 3 strony", "+48225551234"),
])  # fmt: skip
def test_the_number_in_a_gateways_subject(subject: str, number: str) -> None:
    assert caller_id(parse(mf.make_message(subject=subject)), PATTERNS) == number


@pytest.mark.parametrize(("body", "number"), [
    ("Sender: +48 22 555 12 34\nPages: 2\nQuality: Normal\n", "+48225551234"),  # HylaFAX's body
    ("CallerID: 48225551234 <0225551234>\nPages: 1\n", None),  # no "+": not a Polish number
    ("Caller-ID: 0225551234\nRemote Station: HOTLINE\n", "+48225551234"),
    ("Numer nadawcy: 22 555 12 34 (2 str.)\n", "+48225551234"),
])  # fmt: skip
def test_the_number_in_a_gateways_body_lines(body: str, number: str | None) -> None:
    assert caller_id(parse(mf.make_message(subject="Fax", body=body)), PATTERNS) == number


@pytest.mark.parametrize("subject", ["Fax from the office, 2 pages", "Fax 2026-03-02 10:15 (3 pages)", "Faks"])
def test_no_number_is_made_up(subject: str) -> None:
    assert caller_id(parse(mf.make_message(subject=subject)), PATTERNS) is None
