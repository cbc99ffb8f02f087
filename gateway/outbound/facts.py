"""The facts the messages about a ticket state (number, subject, the user, the deadlines)
and the way back to its user: what acknowledgements, answers and notices are made of."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gateway.outbound.compose import AckFacts
from gateway.settings import Settings
from storage.models import Ticket


@dataclass(frozen=True, slots=True)
class Way:
    """How the acknowledgement reaches the user."""

    channel: Literal["email", "fax", "phone"]
    address: str  # an e-mail address, or a fax or phone number (E.164)


def way_back(came_by: str, emails: list[str], faxes: list[str], phones: list[str]) -> Way | None:
    """The contact named on the form (or the sender): the channel the question came by
    first, then e-mail, fax, phone."""
    found: dict[str, list[str]] = {"email": emails, "fax": faxes, "phone": phones}
    for channel in dict.fromkeys((came_by, "email", "fax", "phone")):
        if found.get(channel):
            return Way(channel, found[channel][0])  # type: ignore[arg-type]
    return None


def facts(settings: Settings, number: str, row: Mapping[str, Any]) -> AckFacts:
    """What the messages about a ticket say of it: from a ticket row being created..."""
    return AckFacts(
        number=number,
        language=row["language"],
        subject=row["subject"],
        reference=row["reference"],
        user_name=row["user_name"],
        office=row["office"],
        received_at=row["received_at"],
        effective_received_at=row["effective_received_at"] or row["received_at"],
        ack_due_at=row["ack_due_at"] or row["received_at"],
        timezone=settings.calendar.timezone,
        hours=settings.calendar.hours,
    )


def facts_of(settings: Settings, ticket: Ticket) -> AckFacts:
    """... or from a stored ticket."""
    return facts(settings, ticket.number, {k: getattr(ticket, k) for k in _FACT_COLUMNS})


_FACT_COLUMNS = ("language", "subject", "reference", "user_name", "office", "received_at",
                 "effective_received_at", "ack_due_at")  # fmt: skip
