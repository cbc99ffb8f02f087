"""The loop governor: how many acknowledgements may go out an hour, to one address, one
organisation and in all, counted from the outbox and the batch being routed."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway import senders
from gateway.outbound import outbox
from gateway.settings import OutboundSection
from storage.models import OutboxKind


class AckLimiter:
    """Acknowledgements an hour, counted from what is stored and this batch: at most
    `acks_per_address_per_hour` to one address (an auto-responder that hides what it is
    cannot keep a loop going), `acks_per_domain_per_hour` to one organisation's domain
    (nor one that answers from a new address each time, `ticket+N@...`; a public mail
    provider's users are counted one by one) and `acks_per_hour` in all."""

    def __init__(self, session: Session, limits: OutboundSection) -> None:
        self.session, self.limits = session, limits
        self.counts: dict[tuple[str, str], int] | None = None  # loaded at the first acknowledgement

    def refusal(self, to: str, channel: str, now: datetime) -> str | None:
        """Why one more acknowledgement to `to` is too many; None, and it is counted, if it is not."""
        counts = self._counts(now)
        scopes = [(("address", to), self.limits.acks_per_address_per_hour, to)]
        org = senders.organisation(to)
        if channel == "email" and org is not None and org.startswith("@"):  # a fax gateway's domain is everyone's
            scopes.append((("domain", org[1:]), self.limits.acks_per_domain_per_hour, org))
        scopes.append((("all", ""), self.limits.acks_per_hour, "all addresses"))
        for scope, limit, what in scopes:
            if counts.get(scope, 0) >= limit:
                return f"over {limit} acknowledgements an hour to {what}"
        for scope, _, _ in scopes:
            counts[scope] = counts.get(scope, 0) + 1
        return None

    def _counts(self, now: datetime) -> dict[tuple[str, str], int]:
        """The last hour's acknowledgements by address, by domain and in all, read once."""
        if self.counts is None:
            self.counts = {}
            for to, n in outbox.recent_by_address(self.session, OutboxKind.ACK, now - timedelta(hours=1)).items():
                for scope in (("address", to), ("domain", to.lower().rpartition("@")[2]), ("all", "")):
                    self.counts[scope] = self.counts.get(scope, 0) + n
        return self.counts
