"""Consultants answer from their mail client, end to end: the notification with its token
Reply-To, a reply as mail clients write it (quote, signature), only the new text forwarded
to the user over the user's channel, mail commands, and forged answers held."""
from __future__ import annotations

import email
import email.policy
import email.utils
import io
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from gateway import settings as config
from storage import db
from storage.models import Event
from tests import formfactory as ff
from tests import mailfactory as mf
from tests.relay import Received, Relay, RelayHandler, relay  # noqa: F401  (fixture)
from tests.support import DaemonProcess, Hotline, consultants_config, wait_for, write_config, ingest_raw as ingest, show_ticket as show

CONSULTANT, TEAM, USER = "anna@example.org", "support-team@example.org", "jan.kowalski@gmina.example.pl"
GATEWAY = "faxserver@example.org"
# What the site's MTA (the trusted authserv-id) stamps on a consultant's genuine mail
VOUCHED = "mx.example.org; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org"
NEW_TEXT = "Dzień dobry,\n\nproszę wybrać Raporty > Eksport i zaznaczyć „PDF/A”.\nTo rozwiąże problem."


def question(message_id: str = "<q1@gmina.example.pl>") -> bytes:
    return mf.make_message(subject="Błąd eksportu sprawozdania", sender=f"Jan Kowalski <{USER}>",
                           body="Przy eksporcie do PDF pojawia się błąd 42.\n", message_id=message_id)  # fmt: skip


def team_config(tmp_path: Path) -> str:
    return consultants_config(tmp_path, 'trusted_authserv_ids = ["mx.example.org"]\n') + (
        f'[fax]\ngateway_senders = ["{GATEWAY}"]\nsend_in_working_hours = false\n')


@pytest.fixture
def hotline(db_url: str, tmp_path: Path, relay: Relay) -> Hotline:  # noqa: F811
    return Hotline(write_config(tmp_path / "c.toml", db_url, team_config(tmp_path), outbound=relay.config()))


def flush(hotline: Hotline) -> None:
    hotline("outbox", "--flush")


def to(relay: Relay, address: str) -> list[EmailMessage]:  # noqa: F811
    return [r.message for r in relay.received if address in r.rcpt_tos]


def events(hotline: Hotline, kind: str) -> list[Event]:
    factory = db.open_store(config.load(hotline.config).storage.url)
    with factory() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")  # the wire's CRLF, as a mail client shows it


# --------------------------------------------------------------------------- mail clients
def thunderbird_reply(notice: EmailMessage, text: str, sender: str = CONSULTANT, to_addr: str | None = None,
                      subject: str | None = None, headers: list[tuple[str, str]] | None = None,
                      auth: str | None = VOUCHED, attribution: str = "W dniu 23.11.2026 o 09:12, Hot-line pisze:") -> bytes:  # fmt: skip
    """A reply as Thunderbird writes it (Polish UI): new text, signature, attribution, quote;
    as our MTA delivers it, with its Authentication-Results (`auth`) on top."""
    quoted = "\n".join(f"> {line}" if line else ">" for line in body(notice).splitlines())
    reply = EmailMessage()
    if auth is not None:
        reply["Authentication-Results"] = auth
    reply["From"] = f"Anna Nowak <{sender}>"
    reply["To"] = to_addr or str(notice["Reply-To"])
    reply["Subject"] = subject or f"Re: {notice['Subject']}"
    reply["Date"] = email.utils.format_datetime(email.utils.localtime())
    reply["Message-ID"] = email.utils.make_msgid(domain="example.org")
    reply["In-Reply-To"] = str(notice["Message-ID"])
    reply["References"] = str(notice["Message-ID"])
    for name, value in headers or []:
        reply[name] = value
    reply["User-Agent"] = "Mozilla Thunderbird"
    reply.set_content(f"{text}\n\n-- \nAnna Nowak\nKonsultant, tel. 22 555 01 02\n\n"
                      f"{attribution}\n{quoted}\n")  # fmt: skip
    return reply.as_bytes()


def outlook_reply(notice: EmailMessage, text: str) -> bytes:
    """Outlook: the answer on top, the history below a header block, unquoted."""
    reply = EmailMessage()
    reply["Authentication-Results"] = VOUCHED
    reply["From"], reply["To"] = f"Anna Nowak <{CONSULTANT}>", str(notice["Reply-To"])
    reply["Subject"] = f"RE: {notice['Subject']}"
    reply["Message-ID"] = email.utils.make_msgid(domain="example.org")
    reply.set_content(f"{text}\n\nPozdrawiam\nAnna Nowak\n\n________________________________\nOd: Hot-line <hotline@example.org>\n"
                      f"Wysłane: poniedziałek, 23 listopada 2026 09:12\nDo: {TEAM}\nTemat: {notice['Subject']}\n\n{body(notice)}\n")  # fmt: skip
    return reply.as_bytes()


def notified(hotline: Hotline, tmp_path: Path, relay: Relay, raw: bytes) -> tuple[str, EmailMessage]:  # noqa: F811
    number = ingest(hotline, tmp_path, raw)["ticket"]
    flush(hotline)
    (notice,) = [m for m in to(relay, TEAM) if f"[HOT#{number[4:]}]" in str(m["Subject"]) and m["Reply-To"]]
    return number, notice


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("client", [thunderbird_reply, outlook_reply], ids=["thunderbird", "outlook"])
def test_a_reply_from_the_mail_client_reaches_the_user_as_new_text_only(
    hotline: Hotline, tmp_path: Path, relay: Relay, client: Callable[[EmailMessage, str], bytes]  # noqa: F811
) -> None:
    number, notice = notified(hotline, tmp_path, relay, question())
    assert str(notice["Reply-To"]).startswith(f"hotline+{number}.") and str(notice["Reply-To"]).endswith("@example.org")
    assert "Przy eksporcie do PDF pojawia się błąd 42." in body(notice) and USER in body(notice)
    (ack,) = to(relay, USER)

    line = ingest(hotline, tmp_path, client(notice, NEW_TEXT))
    assert (line["action"], line["ticket"]) == ("answered", number)
    flush(hotline)
    ack_again, answer = to(relay, USER)
    text = body(answer)
    assert NEW_TEXT in text
    assert "Przy eksporcie" not in text and "Konsultant, tel." not in text and "Wysłane:" not in text  # no quote, no signature
    assert answer["In-Reply-To"] == "<q1@gmina.example.pl>"
    assert ack["Message-ID"] in str(answer["References"]) and f"[HOT#{number[4:]}]" in str(answer["Subject"])
    assert "Auto-Submitted" not in answer  # a person's answer
    t = show(hotline, number)
    assert t["status"] == "answered" and t["first_answer_at"] is not None
    (given,) = [m for m in t["messages"] if m["kind"] == "answer"]
    assert given["text"] == NEW_TEXT and given["direction"] == "out" and given["to"] == [USER]
    assert t["received_at"] < t["first_answer_at"] and given["at"] == t["first_answer_at"]


def test_a_fax_question_is_answered_by_fax(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    fields = ff.FormFields(date="20.11.2026", reference="OR.0123.45.2026", user_name="Małgorzata Żółkiewska",
                           office="Urząd Gminy Łódź-Widzew", contacts="fax 22 123 45 68",
                           question="Jak wygenerować sprawozdanie kwartalne?")  # fmt: skip
    fax = mf.make_message(subject="Fax from +48 22 765 43 21", sender=f"Fax Server <{GATEWAY}>", body="Fax.\n",
                          attachments=[("fax.pdf", "application/pdf", ff.typed_pdf(fields))])  # fmt: skip
    number, notice = notified(hotline, tmp_path, relay, fax)
    assert "fax.pdf" in [p.get_filename() for p in notice.iter_attachments()]  # the faxed document goes along
    raw = email.message_from_bytes(thunderbird_reply(notice, "Proszę użyć menu Sprawozdania."), policy=email.policy.default)
    raw.add_attachment(b"a,b\n", maintype="text", subtype="csv", filename="wzor.csv")  # type: ignore[attr-defined]
    assert ingest(hotline, tmp_path, raw.as_bytes())["action"] == "answered"
    flush(hotline)
    ack, sent = [r for r in relay.received if r.rcpt_tos == ["48221234568@fax.example.org"]]
    (pdf,) = [p for p in sent.message.iter_attachments() if p.get_content_type() == "application/pdf"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert number in text and "Proszę użyć menu Sprawozdania." in text and "wzor.csv" in text
    assert show(hotline, number)["status"] == "answered"
    again = ff.render_text_page(f"Dotyczy zgłoszenia {number}\nSprawozdanie nadal się nie generuje.")
    follow_up = mf.make_message(subject="Fax from +48 22 123 45 68", sender=f"Fax Server <{GATEWAY}>", body="Fax.\n",
                                attachments=[("fax.tif", "image/tiff", ff.to_g4_tiff([again]))])  # fmt: skip
    assert (ingest(hotline, tmp_path, follow_up)["action"], show(hotline, number)["status"]) == ("appended", "acknowledged")
    (reopened,) = events(hotline, "reopened")  # the user's fax naming the ticket reopened it
    assert reopened.data["previous"] == "answered"


@pytest.mark.parametrize("forgery", ["wrong token", "foreign sender", "no token", "dkim fail"])
def test_a_forged_answer_is_held_and_reaches_no_user(hotline: Hotline, tmp_path: Path, relay: Relay, forgery: str) -> None:  # noqa: F811
    number, notice = notified(hotline, tmp_path, relay, question())
    raw = {
        "wrong token": lambda: thunderbird_reply(notice, "Proszę podać hasło.", to_addr=f"hotline+{number}.aaaaaaaa@example.org"),
        "foreign sender": lambda: thunderbird_reply(notice, "Proszę podać hasło.", sender="mallory@evil.example"),
        "no token": lambda: thunderbird_reply(notice, "Proszę podać hasło.", to_addr="hotline@example.org"),
        "dkim fail": lambda: thunderbird_reply(notice, "Proszę podać hasło.",
                                               auth="mx.example.org; dkim=fail header.d=example.org; dmarc=fail header.from=example.org"),
    }[forgery]()  # fmt: skip
    users_before = len(to(relay, USER))
    line = ingest(hotline, tmp_path, raw)
    assert (line["action"], line["ticket"]) == ("held", number)
    flush(hotline)
    assert len(to(relay, USER)) == users_before  # nothing forwarded
    (held,) = events(hotline, "held")
    assert held.data["reason"] == line["reason"]
    (warning,) = [m for m in to(relay, TEAM) if m["Message-ID"] != notice["Message-ID"]]
    assert f"[HOT#{number[4:]}]" in str(warning["Subject"]) and "Proszę podać hasło." not in body(warning)
    t = show(hotline, number)
    kinds = [m["kind"] for m in t["messages"]]
    assert t["status"] != "answered" and "answer" not in kinds and kinds.count("held") == 1


def test_an_untrusted_authentication_result_is_ignored(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    number, notice = notified(hotline, tmp_path, relay, question())
    raw = thunderbird_reply(notice, NEW_TEXT, headers=[("Authentication-Results", "evil.example; dkim=fail header.d=example.org")])
    assert ingest(hotline, tmp_path, raw)["action"] == "answered"


def commands_reply(hotline: Hotline, tmp_path: Path, relay: Relay, text: str) -> tuple[str, dict[str, Any]]:  # noqa: F811
    number, notice = notified(hotline, tmp_path, relay, question())
    line = ingest(hotline, tmp_path, thunderbird_reply(notice, text))
    flush(hotline)
    return number, line


def test_note_is_kept_and_nothing_is_sent(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    number, line = commands_reply(hotline, tmp_path, relay, "#note\nKlient dzwonił, sprawdzam logi.")
    assert line["action"] == "appended"
    assert len(to(relay, USER)) == 1  # the acknowledgement only
    t = show(hotline, number)
    (note,) = [m for m in t["messages"] if m["kind"] == "note"]
    assert note["text"] == "Klient dzwonił, sprawdzam logi." and t["status"] == "acknowledged"


def test_close_severity_and_assign_with_an_answer(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    number, line = commands_reply(hotline, tmp_path, relay, f"#severity 2\n#assign piotr@example.org\n#close\n\n{NEW_TEXT}")
    assert line["action"] == "answered"
    t = show(hotline, number)
    assert (t["status"], t["severity"], t["assignee"]) == ("closed", 2, "piotr@example.org")
    assert t["closed_at"] is not None and t["first_answer_at"] is not None
    (answer,) = to(relay, USER)[1:]
    assert NEW_TEXT in body(answer) and "#close" not in body(answer) and "#severity" not in body(answer)


def test_pending_waits_for_the_user(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    number, line = commands_reply(hotline, tmp_path, relay, "#pending\nProszę przesłać zrzut ekranu.")
    assert line["action"] == "answered" and show(hotline, number)["status"] == "pending"
    assert "Proszę przesłać zrzut ekranu." in body(to(relay, USER)[-1])


@pytest.mark.parametrize("text", ["#closed\nDziękuję.", "#severity 7\nDziękuję."])
def test_a_wrong_command_gets_the_consultant_an_error_and_the_user_nothing(
    hotline: Hotline, tmp_path: Path, relay: Relay, text: str  # noqa: F811
) -> None:
    number, line = commands_reply(hotline, tmp_path, relay, text)
    assert line["action"] == "held" and "nothing was sent" in line["reason"]
    assert len(to(relay, USER)) == 1  # the acknowledgement only
    (error,) = to(relay, CONSULTANT)
    assert text.split()[0].split()[0] in body(error) and f"[HOT#{number[4:]}]" in str(error["Subject"])
    assert show(hotline, number)["status"] == "acknowledged"


def test_a_follow_up_after_the_answer_reopens_and_tells_the_consultants(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    number, notice = notified(hotline, tmp_path, relay, question())
    ingest(hotline, tmp_path, thunderbird_reply(notice, f"#close\n{NEW_TEXT}"))
    flush(hotline)
    answer = to(relay, USER)[-1]
    follow = mf.make_message(subject=f"Re: {answer['Subject']}", sender=f"Jan Kowalski <{USER}>",
                             body="Nadal nie działa.\n", message_id="<q2@gmina.example.pl>",
                             headers=[("In-Reply-To", str(answer["Message-ID"]))])  # fmt: skip
    line = ingest(hotline, tmp_path, follow)
    assert (line["action"], line["ticket"]) == ("appended", number)
    assert show(hotline, number)["status"] == "acknowledged"  # reopened: needs a consultant, SLA clocks running
    flush(hotline)
    latest = to(relay, TEAM)[-1]
    assert "Nadal nie działa." in body(latest) and str(latest["Reply-To"]) == str(notice["Reply-To"])


def test_every_message_we_send_says_its_kind_and_ticket(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    """SPEC "Mail we send": each kind, as it comes out of a real round, carries X-Hotline-Kind
    and the ticket it concerns, so consultants can sort our mail with a filter."""
    def round_trip(raw: bytes) -> tuple[str, list[tuple[str, str, str]]]:
        """The ticket `raw` went to, and (recipient, kind, ticket) of each message that went out."""
        seen = len(relay.received)
        number = ingest(hotline, tmp_path, raw)["ticket"]
        flush(hotline)
        flush(hotline)  # a notice made while sending (delivery failed) goes in the next round
        return number, sorted((",".join(r.rcpt_tos), r.message["X-Hotline-Kind"], r.message["X-Hotline-Ticket"])
                              for r in relay.received[seen:])  # fmt: skip

    def reply_to(number: str) -> EmailMessage:
        (notice,) = [m for m in to(relay, TEAM) if m["Reply-To"] and m["X-Hotline-Kind"] == "notification"
                     and number in str(m["Reply-To"])]  # fmt: skip
        return notice

    fax_to = "48221234568@fax.example.org"
    number, sent = round_trip(question())
    assert sent == sorted([(USER, "ack", number), (TEAM, "notification", number)])
    assert round_trip(thunderbird_reply(reply_to(number), NEW_TEXT))[1] == [(USER, "answer", number)]
    answer = to(relay, USER)[-1]
    follow = mf.make_message(subject=f"Re: {answer['Subject']}", sender=f"Jan Kowalski <{USER}>", body="Nadal nie działa.\n",
                             message_id="<q2@gmina.example.pl>", headers=[("In-Reply-To", str(answer["Message-ID"]))])  # fmt: skip
    assert round_trip(follow)[1] == [(TEAM, "followup", number)]
    assert round_trip(thunderbird_reply(reply_to(number), "#closed\nDziękuję."))[1] == [(CONSULTANT, "command-error", number)]
    forged = thunderbird_reply(reply_to(number), "Proszę podać hasło.", sender="mallory@evil.example")
    assert round_trip(forged)[1] == [(TEAM, "held", number)]

    fields = ff.FormFields(date="20.11.2026", reference="OR.1", user_name="Jan Nowak", office="Urząd Gminy",
                           contacts="fax 22 123 45 68", question="Jak wygenerować sprawozdanie?")  # fmt: skip
    fax = mf.make_message(subject="Fax from +48 22 765 43 21", sender=f"Fax Server <{GATEWAY}>", body="Fax.\n",
                          attachments=[("fax.pdf", "application/pdf", ff.typed_pdf(fields))])  # fmt: skip
    by_fax, sent = round_trip(fax)
    assert sent == sorted([(fax_to, "ack", by_fax), (TEAM, "notification", by_fax)])
    assert round_trip(thunderbird_reply(reply_to(by_fax), "Proszę użyć menu Sprawozdania."))[1] == [(fax_to, "answer", by_fax)]

    by_phone, sent = round_trip(mf.make_message(subject="Zgłoszenie", sender=f"Sekretariat <{USER}>", body=ff.typed_form(ff.PHONE_ONLY)))
    assert sent == sorted([(TEAM, "notification", by_phone), (TEAM, "callback", by_phone)])
    assert round_trip(thunderbird_reply(reply_to(by_phone), "Hasło zmienia się w menu Konto."))[1] == [(TEAM, "callback", by_phone)]

    relay.handler.script = ["550 5.1.1 no such user"]  # the acknowledgement is refused
    refused, sent = round_trip(mf.make_message(subject="Pytanie", sender="ktos@gmina.example.pl", body="Pytanie.\n"))
    assert sent == sorted([(TEAM, "notification", refused), (TEAM, "delivery-failed", refused)])


# --------------------------------------------------------------------------- the daemon
class Router(RelayHandler):
    """The relay as the site's MTA: mail for the consultants' list lands in their folder
    on the Dovecot server; mail for users stays here (their mailboxes)."""

    def __init__(self, dovecot: Any) -> None:
        super().__init__()
        self.dovecot = dovecot

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if TEAM in envelope.rcpt_tos:
            self.dovecot.deliver(bytes(envelope.original_content or envelope.content), "Team")
        return reply


def test_the_whole_round_through_dovecot_and_a_relay_with_the_daemon_running(
    tmp_path: Path, sqlite_template: Path, dovecot: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    (tmp_path / "h.db").write_bytes(sqlite_template.read_bytes())
    router = Relay(Router(dovecot))
    password = tmp_path / "imap-password"
    password.write_text(dovecot.password)
    imap = (f'[[imap]]\nname = "hotline"\nhost = "127.0.0.1"\nport = {dovecot.port}\nsecurity = "none"\n'
            f'username = "{dovecot.user}"\npassword_file = "{password}"\ndone = "move:Processed"\npoll_seconds = 1\n'
            '[daemon]\nsweep_seconds = 0.2\n')  # fmt: skip
    path = write_config(tmp_path / "c.toml", url, imap + team_config(tmp_path), outbound=router.config())
    router.controller.start()
    daemon = DaemonProcess(path, tmp_path)
    try:
        daemon.start()
        dovecot.deliver(question())
        notice = email.message_from_bytes(wait_for(lambda: dovecot.messages("Team") if dovecot.count("Team") else None, 30)[0],
                                          policy=email.policy.default)  # fmt: skip
        assert isinstance(notice, EmailMessage)
        number = str(notice["Reply-To"]).split("+")[1].split(".")[0]
        dovecot.deliver(thunderbird_reply(notice, NEW_TEXT))  # plus-addressed mail lands in the same INBOX
        answer = wait_for(lambda: [m for m in to(router, USER) if "Auto-Submitted" not in m], 30)[0]
    finally:
        daemon.terminate()
        daemon.close()
        router.controller.stop()
    assert NEW_TEXT in body(answer) and "Przy eksporcie" not in body(answer) and "Konsultant" not in body(answer)
    assert answer["In-Reply-To"] == "<q1@gmina.example.pl>"
    t = show(Hotline(path), number)
    (given,) = [m for m in t["messages"] if m["kind"] == "answer"]
    assert given["text"] == NEW_TEXT and t["first_answer_at"] == given["at"] and t["status"] == "answered"
    assert [m["kind"] for m in t["messages"]][:1] == ["question"] and t["received_at"] < t["first_answer_at"]
    assert dovecot.count("INBOX") == 0 and dovecot.count("Processed") == 2


def test_a_new_fax_naming_the_ticket_number_is_a_follow_up(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    number, _ = notified(hotline, tmp_path, relay, question())
    text = ff.render_text_page(f"Uzupełnienie do zgłoszenia {number}\nW załączeniu brakujący numer: 12345.")
    fax = mf.make_message(subject="Fax from +48 22 765 43 21", sender=f"Fax Server <{GATEWAY}>", body="Fax.\n",
                          attachments=[("fax.tif", "image/tiff", ff.to_g4_tiff([text]))])  # fmt: skip
    line = ingest(hotline, tmp_path, fax)
    assert (line["action"], line["ticket"]) == ("appended", number)
    flush(hotline)
    latest = to(relay, TEAM)[-1]
    assert "12345" in body(latest) and "Uzupełnienie" in str(latest["Subject"])


def test_routing_commands_refuse_to_start_without_the_token_secret(db_url: str, tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.toml", db_url, consultants_config(tmp_path))
    (tmp_path / "token-secret").unlink()
    for command in (["ingest", str(tmp_path / "none.eml")], ["run"]):
        result = Hotline(path)(*command)
        assert result.code == 2 and "consultants.token_secret_file: cannot read" in result.err, result.err


def test_an_answer_for_a_user_who_asked_for_a_phone_call_becomes_a_call_task(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    form = mf.make_message(subject="Zgłoszenie", sender=f"Sekretariat <{USER}>", body=ff.typed_form(ff.PHONE_ONLY))
    number, notice = notified(hotline, tmp_path, relay, form)
    assert ingest(hotline, tmp_path, thunderbird_reply(notice, "Hasło zmienia się w menu Konto."))["action"] == "answered"
    flush(hotline)
    assert not to(relay, USER)  # the user asked for a call, not for mail
    (task,) = [m for m in to(relay, TEAM) if "telefonicznie" in str(m["Subject"])]
    assert "+48221234567" in str(task["Subject"]) and "Hasło zmienia się w menu Konto." in body(task)
    assert show(hotline, number)["status"] == "answered"


def test_called_marks_a_phone_acknowledgement_done(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    form = mf.make_message(subject="Zgłoszenie", sender=f"Sekretariat <{USER}>", body=ff.typed_form(ff.PHONE_ONLY))
    number, notice = notified(hotline, tmp_path, relay, form)
    assert show(hotline, number)["acked_at"] is None  # a call-back task, not yet done
    line = ingest(hotline, tmp_path, thunderbird_reply(notice, "#called\nRozmawiałam z p. Nowakiem, potwierdziłam przyjęcie."))
    assert line["action"] == "appended"
    t = show(hotline, number)
    assert t["status"] == "acknowledged" and t["acked_at"] is not None
    assert [m["text"] for m in t["messages"] if m["kind"] == "note"] == ["Rozmawiałam z p. Nowakiem, potwierdziłam przyjęcie."]
    assert not to(relay, USER)


# --------------------------------------------------------------------------- hostile replies
def held_and_nothing_forwarded(hotline: Hotline, tmp_path: Path, relay: Relay, raw: bytes, number: str) -> dict[str, Any]:  # noqa: F811
    """`raw` is held on `number`, and after the outbox runs no user has got anything new."""
    users_before = [r for r in relay.received if TEAM not in r.rcpt_tos]
    line = ingest(hotline, tmp_path, raw)
    assert (line["action"], line["ticket"]) == ("held", number), line
    flush(hotline)
    assert [r for r in relay.received if TEAM not in r.rcpt_tos] == users_before
    return line


def test_a_leaked_token_of_one_ticket_answers_no_other(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    """The attack of issue 11: From a consultant, To a look-alike reply address of ticket B
    on the attacker's domain, Cc ticket A's genuine reply address, In-Reply-To A's
    notification. It once became B's answer, mailed to B's user from our address."""
    number_a, notice_a = notified(hotline, tmp_path, relay, question())
    other = mf.make_message(subject="Inna sprawa", sender="Ewa Zielińska <ewa@powiat.example.pl>",
                            body="Pytanie o licencję.\n", message_id="<q2@powiat.example.pl>")  # fmt: skip
    number_b, _ = notified(hotline, tmp_path, relay, other)
    attack = thunderbird_reply(notice_a, "Prosimy pilnie wpłacić 1 850,00 zł na rachunek 00 1111 2222.",
                               to_addr=f"x+{number_b}.aaaaaaaa@attacker.test", subject=f"Re: [HOT#{number_b[4:]}] Inna sprawa",
                               headers=[("Cc", str(notice_a["Reply-To"]))])  # fmt: skip
    line = held_and_nothing_forwarded(hotline, tmp_path, relay, attack, number_a)
    assert number_a in line["reason"] and number_b in line["reason"]
    assert not [r for r in relay.received if "ewa@powiat.example.pl" in r.rcpt_tos and "wpłacić" in body(r.message)]
    assert show(hotline, number_b)["status"] != "answered" and show(hotline, number_a)["status"] != "answered"
    genuine = ingest(hotline, tmp_path, thunderbird_reply(notice_a, NEW_TEXT))  # A's own reply still works
    assert (genuine["action"], genuine["ticket"]) == ("answered", number_a)


def test_a_genuine_token_on_another_base_address_or_domain_routes_nowhere(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    """Only `hotline+...@example.org` (our `[outbound] from`) is a reply address: the same
    token under another local part or domain claims nothing, and the consultant's mail on
    the ticket's thread is held."""
    number, notice = notified(hotline, tmp_path, relay, question())
    token = str(notice["Reply-To"]).split("@")[0].split("+")[1]
    for address in (f"support+{token}@example.org", f"hotline+{token}@attacker.test"):
        line = held_and_nothing_forwarded(hotline, tmp_path, relay, thunderbird_reply(notice, NEW_TEXT, to_addr=address), number)
        assert "without a reply token" in line["reason"]


def test_a_non_ascii_reply_token_is_held_not_quarantined(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    number, notice = notified(hotline, tmp_path, relay, question())
    genuine = str(notice["Reply-To"])
    local, domain = genuine.split("@")
    forged = thunderbird_reply(notice, NEW_TEXT, to_addr=f"{local[:-1]}ſ@{domain}")
    assert "wrong reply token" in held_and_nothing_forwarded(hotline, tmp_path, relay, forged, number)["reason"]


@pytest.mark.parametrize("auth", [
    None,  # the trusted MTA stamped nothing: the mail did not come through it
    "mx.example.org; spf=fail smtp.mailfrom=example.org; dkim=none; dmarc=none",
    "mx.example.org; dkim=temperror header.d=example.org; dmarc=temperror header.from=example.org",
    "mx.example.org; dkim=permerror header.d=example.org",
    "mx.example.org; dkim=pass header.d=attacker.test; spf=pass smtp.mailfrom=attacker.test",
    "evil.example; dkim=pass header.d=example.org; dmarc=pass header.from=example.org",
])  # fmt: skip
def test_a_reply_the_trusted_mta_does_not_vouch_for_is_held(hotline: Hotline, tmp_path: Path, relay: Relay, auth: str | None) -> None:  # noqa: F811
    number, notice = notified(hotline, tmp_path, relay, question())
    line = held_and_nothing_forwarded(hotline, tmp_path, relay, thunderbird_reply(notice, NEW_TEXT, auth=auth), number)
    assert "not authenticated" in line["reason"]


@pytest.mark.parametrize("froms", [
    ["Anna Nowak <anna@example.org>, Mallory <mallory@attacker.test>"],
    ["Anna Nowak <anna@example.org>", "Mallory <mallory@attacker.test>"],
], ids=["two mailboxes", "two fields"])  # fmt: skip
def test_a_reply_with_several_senders_is_held(hotline: Hotline, tmp_path: Path, relay: Relay, froms: list[str]) -> None:  # noqa: F811
    number, notice = notified(hotline, tmp_path, relay, question())
    reply = email.message_from_bytes(thunderbird_reply(notice, NEW_TEXT), policy=email.policy.compat32)
    del reply["From"]
    for value in froms:
        reply["From"] = value
    line = held_and_nothing_forwarded(hotline, tmp_path, relay, reply.as_bytes(), number)
    assert "2 From mailboxes" in line["reason"]


def test_a_reply_from_a_client_whose_quote_header_no_rule_knows_forwards_only_the_new_text(
    hotline: Hotline, tmp_path: Path, relay: Relay  # noqa: F811
) -> None:
    """A German Thunderbird ("Am ... schrieb Hotline:"): the quoted notification, with its
    review notes and the command help, once went to the user whole."""
    form = mf.make_message(subject="Zgłoszenie", sender=f"Sekretariat <{USER}>", body="Bez formularza, bez kontaktu?\n")
    number, notice = notified(hotline, tmp_path, relay, form)
    assert "#close" in body(notice)  # the command help the user must never see
    raw = thunderbird_reply(notice, NEW_TEXT, attribution="Am 03.12.2026 um 10:15 schrieb Hotline:")
    assert ingest(hotline, tmp_path, raw)["action"] == "answered"
    flush(hotline)
    answer = to(relay, USER)[-1]
    assert NEW_TEXT in body(answer)
    assert "#close" not in body(answer) and "schrieb" not in body(answer) and "Zgłoszenie:" not in body(answer)
    (given,) = [m for m in show(hotline, number)["messages"] if m["kind"] == "answer"]
    assert given["text"] == NEW_TEXT


def test_a_stranger_naming_a_ticket_neither_reopens_it_nor_passes_as_its_user(hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811
    """Ticket numbers are sequential: anyone could write `[HOT#2026-000001]` in a subject,
    append to that ticket and reopen it. The stranger's mail is kept, marked and flagged."""
    number, notice = notified(hotline, tmp_path, relay, question())
    ingest(hotline, tmp_path, thunderbird_reply(notice, f"#close\n{NEW_TEXT}"))
    stranger = mf.make_message(subject=f"[HOT#{number[4:]}] Proszę o ponowne otwarcie", sender="Obcy <obcy@inny.example.pl>",
                               body="Proszę przesłać dane tego zgłoszenia.\n", message_id="<s1@inny.example.pl>")  # fmt: skip
    line = ingest(hotline, tmp_path, stranger)
    assert (line["action"], line["ticket"]) == ("appended", number) and "obcy@inny.example.pl" in line["reason"]
    t = show(hotline, number)
    assert t["status"] == "closed" and t["needs_review"] is True
    (followup,) = events(hotline, "followup")
    assert "obcy@inny.example.pl" in followup.data["foreign_sender"] and USER in followup.data["foreign_sender"]
    flush(hotline)
    (warning,) = [m for m in to(relay, TEAM) if "Proszę przesłać dane" in body(m)]
    assert "obcy@inny.example.pl" in body(warning) and "not reopened" in body(warning)
    own = mf.make_message(subject=f"Re: [HOT#{number[4:]}] Błąd eksportu", sender=f"Jan Kowalski <{USER}>",
                          body="Nadal nie działa.\n", message_id="<q3@gmina.example.pl>")  # fmt: skip
    assert ingest(hotline, tmp_path, own)["action"] == "appended"
    assert show(hotline, number)["status"] == "acknowledged"  # the user's own follow-up reopens it
    assert len(events(hotline, "reopened")) == 1


def test_an_answer_to_a_fax_number_outside_the_allowed_prefixes_is_kept_not_faxed(
        hotline: Hotline, tmp_path: Path, relay: Relay) -> None:  # noqa: F811  # fmt: skip
    """A form (or a forged gateway mail) naming a premium-rate number gets no fax, neither
    the acknowledgement nor the answer: the answer stays on the ticket, flagged, with why."""
    fields = ff.FormFields(date="20.11.2026", reference="OR.1", user_name="Jan Nowak", office="Urząd Gminy",
                           contacts="fax 0 700 123 456", question="Jak wygenerować sprawozdanie?")  # fmt: skip
    fax = mf.make_message(subject="Fax from +48 22 765 43 21", sender=f"Fax Server <{GATEWAY}>", body="Fax.\n",
                          attachments=[("fax.pdf", "application/pdf", ff.typed_pdf(fields))])  # fmt: skip
    number, notice = notified(hotline, tmp_path, relay, fax)
    assert ingest(hotline, tmp_path, thunderbird_reply(notice, "Proszę użyć menu Sprawozdania."))["action"] == "answered"
    flush(hotline)
    assert not [r for r in relay.received if any("fax.example.org" in a for a in r.rcpt_tos)]
    ticket = show(hotline, number)
    assert ticket["needs_review"] and ticket["review_reasons"][-1] == (
        "the answer was not sent: +48700123456 is not an allowed fax destination ([fax] allowed_prefixes)")
    (answer,) = [m for m in ticket["messages"] if m["kind"] == "answer"]
    assert answer["text"] == "Proszę użyć menu Sprawozdania." and answer["to"] == []
