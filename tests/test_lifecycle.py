"""Every transition of a ticket's life (gateway/lifecycle.py), as a table; the end-to-end
tests (test_consultants, test_acknowledge) show each through `hotline ingest` and the
outbox: ack sent, #called, answer, #close, #pending, a follow-up and a fax naming the
ticket reopening it. Here: that nothing else changes, and the first time is kept."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gateway import lifecycle
from gateway.lifecycle import Life
from storage.kinds import TicketStatus as S

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 12, 8, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("life", "expected"), [
    (Life(S.NEW), {"acked_at": T1, "status": S.ACKNOWLEDGED}),
    (Life(S.ACKNOWLEDGED, acked_at=T0), {}),  # a second acknowledgement keeps the first time
    (Life(S.ANSWERED), {"acked_at": T1}),  # answered before the ack left: the status stays
    (Life(S.CLOSED, acked_at=T0), {}),
])  # fmt: skip
def test_acknowledged(life: Life, expected: dict[str, object]) -> None:
    assert lifecycle.acknowledged(life, T1) == expected


@pytest.mark.parametrize(("life", "commanded", "expected"), [
    (Life(S.ACKNOWLEDGED), False, {"status": S.ANSWERED, "first_answer_at": T1}),
    (Life(S.PENDING, first_answer_at=T0), False, {"status": S.ANSWERED}),  # the first answer's time stays
    (Life(S.CLOSED), True, {"first_answer_at": T1}),  # "#close" in the answer decided the status
    (Life(S.PENDING, first_answer_at=T0), True, {}),
])  # fmt: skip
def test_answered(life: Life, commanded: bool, expected: dict[str, object]) -> None:
    assert lifecycle.answered(life, T1, status_commanded=commanded) == expected


@pytest.mark.parametrize("status", list(S))
def test_reopened_only_when_answered_closed_or_waiting(status: S) -> None:
    """Reopened to acknowledged, never pending: pending pauses the SLA clocks."""
    reopens = (S.ANSWERED, S.CLOSED, S.PENDING)
    expected = {"status": S.ACKNOWLEDGED, "closed_at": None} if status in reopens else {}
    assert lifecycle.reopened(Life(status, closed_at=T0)) == expected


def test_close_wait_merge_and_open() -> None:
    assert lifecycle.closed(Life(S.ANSWERED), T1) == {"status": S.CLOSED, "closed_at": T1}
    assert lifecycle.waiting_for_user(Life(S.ANSWERED)) == {"status": S.PENDING}
    assert lifecycle.merged(Life(S.NEW)) == {"status": S.CLOSED}
    assert lifecycle.opened() == {"status": S.NEW}
