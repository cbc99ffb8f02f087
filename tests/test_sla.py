"""SLA end to end: the real `hotline ingest` and `hotline sla --flush` run at chosen instants
under libfaketime's `faketime`; reminders and escalations are read from the outbox Maildir
(X-Hotline-Clock / X-Hotline-Stage), so each instant, each stage and each "exactly once"
is what a consultant's mail client would see.

Warsaw is UTC+1 in January: the standard plan's working day 08:00-16:00 is 07:00-15:00Z.
"""
from __future__ import annotations

import mailbox
import os
import subprocess
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from gateway import tokens
from tests import formfactory as ff
from tests import mailfactory as mf
from tests.support import HOTLINE, consultants_config, write_config


PLANS = """
[calendars.24x7]
hours = ["00:00", "24:00"]
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[sla]
default_plan = "standard"
remind_at = [0.5, 0.8]
escalate_to = ["manager@example.org"]

[sla.plans.premium]
match = ["@big.example.pl"]
default_severity = 1
severity_calendars = { "1" = "24x7" }
[sla.plans.premium.targets]
"1" = { response = "2h", resolution = "8h" }
"2" = { response = "4h", resolution = "16h" }
"3" = { response = "8h", resolution = "40h" }
"4" = { response = "16h", resolution = "80h" }

[sla.plans.standard]
[sla.plans.standard.targets]
"1" = { response = "1h", resolution = "8h" }
"2" = { response = "2h", resolution = "16h" }
"3" = { response = "4h", resolution = "16h" }
"4" = { response = "4h", resolution = "16h" }
"""
USER = "jan@gmina.example.pl"
SECRET = "a-test-secret-of-32-characters!!"


class Clocked:
    """`hotline` run as a real process at a chosen instant (UTC)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.outbox = config.parent / "outbox"

    def popen(self, at: str, *args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "TZ": "UTC"}
        return subprocess.Popen(["faketime", at, str(HOTLINE), "--config", str(self.config), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)  # fmt: skip

    def run(self, at: str, *args: str, stdin: bytes | None = None) -> str:
        proc = self.popen(at, *args)
        out, err = proc.communicate(stdin, timeout=120)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    def ingest(self, at: str, raw: bytes) -> str:
        path = self.config.parent / "in.eml"
        path.write_bytes(raw)
        import json

        return str(json.loads(self.run(at, "ingest", "--received-at", at.replace(" ", "T") + "Z", str(path)))["ticket"])

    def flush(self, at: str) -> None:
        self.run(at, "sla", "--flush")

    def show(self, at: str, number: str) -> dict[str, Any]:
        import json

        return dict(json.loads(self.run(at, "tickets", "show", number, "--json")))

    def mail(self) -> list[EmailMessage]:
        if not self.outbox.exists():
            return []
        box = mailbox.Maildir(self.outbox, create=False)
        return [message_from_bytes(box.get_bytes(k), policy=policy.default) for k in sorted(box.keys())]  # type: ignore[misc]

    def reminders(self) -> list[tuple[str, str, str]]:
        """(kind, clock, stage) of every reminder and escalation in the Maildir."""
        return sorted((str(m["X-Hotline-Kind"]), str(m["X-Hotline-Clock"]), str(m["X-Hotline-Stage"]))
                      for m in self.mail() if m["X-Hotline-Clock"])  # fmt: skip


@pytest.fixture
def clocked(db_url: str, tmp_path: Path) -> Clocked:
    config = write_config(tmp_path / "c.toml", db_url, consultants_config(tmp_path) + PLANS)
    return Clocked(config)


def question(sender: str = USER, message_id: str = "<q1@gmina.example.pl>") -> bytes:
    return mf.make_message(subject="Błąd eksportu", sender=f"Jan Kowalski <{sender}>",
                           body="Przy eksporcie do PDF pojawia się błąd 42.\n", message_id=message_id)  # fmt: skip


def test_reminders_at_half_and_four_fifths_then_the_escalation_each_once(clocked: Clocked) -> None:
    """Monday 08:00 Warsaw, response target 4h: 50% at 10:00, 80% at 11:12, breach at 12:00."""
    number = clocked.ingest("2027-01-11 07:00:00", question())
    clocked.flush("2027-01-11 08:59:00")
    assert clocked.reminders() == []
    clocked.flush("2027-01-11 09:00:30")
    assert clocked.reminders() == [("reminder", "response", "0.5")]
    clocked.flush("2027-01-11 09:05:00")  # again: nothing new
    assert clocked.reminders() == [("reminder", "response", "0.5")]
    clocked.flush("2027-01-11 10:12:30")
    assert clocked.reminders() == [("reminder", "response", "0.5"), ("reminder", "response", "0.8")]
    clocked.flush("2027-01-11 11:00:30")
    assert clocked.reminders() == [("escalation", "response", "breach"), ("reminder", "response", "0.5"),
                                   ("reminder", "response", "0.8")]  # fmt: skip
    (escalation,) = [m for m in clocked.mail() if m["X-Hotline-Kind"] == "escalation"]
    assert str(escalation["X-Hotline-Ticket"]) == number
    assert {"support-team@example.org", "manager@example.org"} <= {a.addr_spec for a in escalation["To"].addresses}
    reminder = next(m for m in clocked.mail() if m["X-Hotline-Stage"] == "0.8")
    text = reminder.get_body(("plain",)).get_content()
    assert number in text and "błąd 42" in text and "12:00" in text  # the deadline in local time
    assert str(reminder["Reply-To"]) == tokens.reply_address("hotline@example.org", number, SECRET)
    state = clocked.show("2027-01-11 11:01:00", number)
    assert (state["plan"], state["severity"]) == ("standard", 4)
    assert state["sla"]["response"]["state"] == "breached" and state["sla"]["response"]["late_minutes"] == 1
    assert state["sla"]["ack"]["state"] == "met"  # the acknowledgement left with the first flush


def test_after_three_days_of_downtime_only_the_most_advanced_stage_per_clock(clocked: Clocked) -> None:
    clocked.ingest("2027-01-11 07:00:00", question())
    clocked.flush("2027-01-14 10:00:00")  # Thursday: every clock is past its breach
    assert clocked.reminders() == [("escalation", "ack", "breach"), ("escalation", "resolution", "breach"),
                                   ("escalation", "response", "breach")]  # fmt: skip
    clocked.flush("2027-01-14 10:30:00")
    assert len(clocked.reminders()) == 3


def test_nothing_is_sent_on_a_saturday_for_a_working_hours_plan(clocked: Clocked) -> None:
    """Friday 14:00 Warsaw: 50% of 4h falls at 16:00 Friday, 80% at 09:12 Monday."""
    clocked.ingest("2027-01-15 13:00:00", question())
    clocked.flush("2027-01-15 13:01:00")  # the acknowledgement
    clocked.flush("2027-01-16 10:00:00")  # Saturday
    assert clocked.reminders() == []
    clocked.flush("2027-01-18 08:13:00")  # Monday 09:13: 80% came due; 50% is not sent late
    assert clocked.reminders() == [("reminder", "response", "0.8")]


def test_a_24x7_severity_1_ticket_is_reminded_at_night(clocked: Clocked) -> None:
    number = clocked.ingest("2027-01-16 22:00:00", question(sender="it@big.example.pl"))
    clocked.flush("2027-01-16 23:00:30")  # Saturday, midnight in Warsaw: 50% of 2h
    assert clocked.reminders() == [("reminder", "response", "0.5")]
    state = clocked.show("2027-01-16 23:01:00", number)
    assert (state["plan"], state["severity"]) == ("premium", 1)
    assert state["sla"]["response"]["calendar"] == "24x7"


def consultant_reply(number: str, text: str) -> bytes:
    reply = EmailMessage()
    reply["From"] = "Anna Nowak <anna@example.org>"
    reply["To"] = tokens.reply_address("hotline@example.org", number, SECRET)
    reply["Subject"] = f"Re: [HOT#{number[4:]}] Błąd eksportu"
    reply["Message-ID"] = "<a1@example.org>"
    reply.set_content(text)
    return reply.as_bytes()


def test_pending_stops_the_clocks_and_the_users_reply_restarts_them(clocked: Clocked) -> None:
    number = clocked.ingest("2027-01-11 07:00:00", question())
    clocked.flush("2027-01-11 07:01:00")
    clocked.ingest("2027-01-11 08:00:00", consultant_reply(number, "#pending\nProszę przysłać zrzut ekranu."))
    paused = clocked.show("2027-01-11 12:00:00", number)
    assert paused["status"] == "pending"
    assert paused["sla"]["resolution"]["state"] == "paused"
    assert paused["sla"]["response"]["state"] == "met"  # the answer went out
    clocked.flush("2027-01-11 14:59:00")  # 50% of 16h would be 16:00 today without the pause
    assert clocked.reminders() == []
    answer = next(m for m in clocked.mail() if str(m["To"]).endswith(USER) and "zrzut" in m.get_body(("plain",)).get_content())
    follow = mf.make_message(subject=f"Re: {answer['Subject']}", sender=f"Jan Kowalski <{USER}>", body="Zrzut w załączeniu.\n",
                             message_id="<q2@gmina.example.pl>", headers=[("In-Reply-To", str(answer["Message-ID"]))])  # fmt: skip
    clocked.ingest("2027-01-12 07:00:00", follow)  # Tuesday 08:00: the user answers
    resumed = clocked.show("2027-01-12 07:00:00", number)
    assert resumed["status"] == "acknowledged"
    resolution = resumed["sla"]["resolution"]
    assert resolution["state"] == "running" and resolution["paused_minutes"] == 7 * 60  # Monday 09:00-16:00
    assert resolution["due_at"] == "2027-01-13T14:00:00Z"  # 16h from Monday 08:00, seven of them paused
    clocked.flush("2027-01-12 07:00:30")  # 50% (8h): 1h on Monday, 7h from Tuesday 08:00 -> 15:00 local
    assert clocked.reminders() == []
    clocked.flush("2027-01-12 14:00:30")
    assert clocked.reminders() == [("reminder", "resolution", "0.5")]


def test_a_reopening_writes_its_new_resolution_deadline_into_the_event(clocked: Clocked) -> None:
    """Closed Monday; the user writes again Wednesday 10:00 Warsaw: a new 16h cycle runs
    Wednesday 10-16, Thursday 8-16 and Friday 8-10, so it is due Friday 10:00 (09:00Z)."""
    number = clocked.ingest("2027-01-11 07:00:00", question())
    clocked.flush("2027-01-11 07:01:00")
    clocked.ingest("2027-01-11 08:00:00", consultant_reply(number, "#close\nProszę zaktualizować program."))
    answer = next(m for m in clocked.mail() if str(m["To"]).endswith(USER))
    again = mf.make_message(subject=f"Re: {answer['Subject']}", sender=f"Jan Kowalski <{USER}>", body="Nadal błąd 42.\n",
                            message_id="<q3@gmina.example.pl>", headers=[("In-Reply-To", str(answer["Message-ID"]))])  # fmt: skip
    clocked.ingest("2027-01-13 09:00:00", again)
    state = clocked.show("2027-01-13 09:00:00", number)
    (reopened,) = [e for e in state["events"] if e["kind"] == "reopened"]
    assert reopened["data"]["previous"] == "closed"
    assert reopened["data"]["resolution_due_at"] == "2027-01-15T09:00:00+00:00"
    assert state["sla"]["resolution"]["due_at"] == "2027-01-15T09:00:00Z"  # the clocks agree with the event


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_concurrent_flushes_on_postgresql_send_each_reminder_once(clocked: Clocked) -> None:
    numbers = [clocked.ingest("2027-01-11 07:00:00", question(message_id=f"<q{i}@gmina.example.pl>"))
               for i in range(6)]  # fmt: skip
    clocked.flush("2027-01-11 07:01:00")  # the acknowledgements
    procs = [clocked.popen("2027-01-11 10:13:00", "sla", "--flush") for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    mails = [m for m in clocked.mail() if m["X-Hotline-Clock"]]
    keys = sorted((str(m["X-Hotline-Ticket"]), str(m["X-Hotline-Stage"])) for m in mails)
    assert keys == sorted((n, "0.8") for n in numbers)  # one per ticket: the most advanced stage, once


def test_a_phone_call_back_is_reminded_before_its_deadline(clocked: Clocked) -> None:
    """A form naming only a phone: no acknowledgement can leave, so the ack clock runs until a
    consultant calls back (#called). Received Monday 08:00 Warsaw, due Tuesday 16:00 (rule 3):
    half of its 16 working hours is spent at Monday 16:00."""
    form = mf.make_message(subject="Zgłoszenie", sender=f"Jan Nowak <{USER}>", body=ff.typed_form(ff.PHONE_ONLY))
    number = clocked.ingest("2027-01-11 07:00:00", form)
    clocked.flush("2027-01-11 14:58:00")
    assert ("reminder", "ack", "0.5") not in clocked.reminders()
    clocked.flush("2027-01-11 15:00:30")
    assert ("reminder", "ack", "0.5") in clocked.reminders()
    (reminder,) = [m for m in clocked.mail() if m["X-Hotline-Clock"] == "ack"]
    assert str(reminder["X-Hotline-Ticket"]) == number
