"""Tickets as the plain JSON objects of the command-line contract (SPEC.md), and as text
for a terminal.

The JSON keeps every value exact. The text views escape control characters: a subject or
a name is written by whoever sent the mail, and ESC sequences, other C0/C1 controls and
bidi overrides printed raw would rewrite the admin's terminal or reorder what it shows.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from gateway.knowledge.index import Hit
from gateway.outbound.outbox import Waiting
from gateway.settings import Settings
from gateway.pipeline.tickets import OCR_SUFFIX
from gateway.service.sla import Queue, working_time
from gateway.sla.clocks import ClockResult, Run, explain
from gateway.sources.leases import Holding, Seen
from parsers.text import BIDI_OVERRIDES, controls
from storage.models import Attachment, Event, KbKind, Message, Ticket, iso

# a terminal line: controls but tab (a newline too) and the bidi overrides, not the marks
_UNSAFE = controls("\t", c1=True, extra=BIDI_OVERRIDES)

TIME_FIELDS = (
    "received_at",
    "effective_received_at",
    "ack_due_at",
    "acked_at",
    "first_answer_at",
    "closed_at",
)


def now() -> datetime:
    return datetime.now(timezone.utc)


def ticket_json(ticket: Ticket, question: str, messages: list[Message] | None = None,
                events: list[Event] | None = None, runs: list[Run] | None = None) -> dict[str, Any]:  # fmt: skip
    """The contract's keys; `tickets show` adds the messages with their attachments, the
    events, and the review reasons gathered from them (why `needs_review` is set). `sla`
    is each clock now (null for a ticket stored before plans were recorded)."""
    data: dict[str, Any] = {
        "number": ticket.number,
        "status": ticket.status,
        "channel": ticket.channel,
        "subject": ticket.subject,
        "severity": ticket.severity,
        "needs_review": ticket.needs_review,
        "assignee": ticket.assignee,
        "user_name": ticket.user_name,
        "office": ticket.office,
        "reference": ticket.reference,
        "form_date": iso(ticket.form_date),
        "return_emails": list(ticket.return_emails),
        "return_faxes": list(ticket.return_faxes),
        "return_phones": list(ticket.return_phones),
        "question": question,
    }
    data.update({name: iso(getattr(ticket, name)) for name in TIME_FIELDS})
    data["plan"] = ticket.plan
    at = now()
    data["sla"] = {r.clock.value: clock_json(r, r.result(at)) for r in runs} if runs else None
    if messages is not None:
        data["messages"] = [message_json(m) for m in messages]
    if events is not None:
        data["review_reasons"] = [r for e in events if e.kind == "needs_review" for r in e.data.get("reasons", [])]
        data["events"] = [event_json(e) for e in events]
    return data


def clock_json(run: Run, result: ClockResult) -> dict[str, Any]:
    """The contract's five keys, and what explains them: working time left, cycle, calendar."""
    return {"due_at": iso(result.due_at), "done_at": iso(result.done_at), "state": result.state.value,
            "paused_minutes": result.paused_minutes, "late_minutes": result.late_minutes,
            "left_minutes": result.left_minutes, "cycle": result.cycle, "calendar": result.calendar,
            "started_at": iso(result.started_at), "target_minutes": result.target_minutes,
            "explained": explain(run, result)}  # fmt: skip


def queue_json(item: Queue) -> dict[str, Any]:
    t = item.ticket
    return {"number": t.number, "severity": t.severity, "plan": t.plan, "status": t.status,
            "received_at": iso(t.received_at), "subject": t.subject,
            "sla": {r.clock.value: clock_json(r, res) for r, res in item.clocks}}  # fmt: skip


def queue_text(item: Queue) -> str:
    """One line per ticket: severity, plan, number, then each clock's state and time."""
    t = item.ticket
    parts = []
    for _, res in item.clocks:
        if res.state == "running":
            what = f"{working_time(res.left_minutes or 0)} left"
        elif res.state == "breached":
            what = f"{working_time(res.late_minutes)} late"
        else:
            what = res.state
        parts.append(f"{res.clock.value} {res.state} due {iso(res.due_at)} ({what})")
    return f"S{t.severity} {t.plan or '-':<10} {t.number} {t.status:<12} {shown(t.subject)}\n    " + "; ".join(parts)


def event_json(event: Event) -> dict[str, Any]:
    return {"at": iso(event.at), "kind": event.kind, "actor": event.actor, "data": event.data}


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    """`ocr_text`: the text OCR read from the document of the same name without the suffix."""
    return {"filename": attachment.filename, "content_type": attachment.content_type, "size": attachment.size,
            "sha256": attachment.blob_sha256, "ocr_text": attachment.filename.endswith(OCR_SUFFIX)}  # fmt: skip


def message_json(message: Message) -> dict[str, Any]:
    return {
        "direction": message.direction,
        "kind": message.kind,
        "channel": message.channel,
        "from": message.from_addr,
        "to": list(message.to_addrs),
        "subject": message.subject,
        "text": message.text,
        "at": iso(message.at),
        "attachments": [attachment_json(a) for a in message.attachments],
    }


def shown(value: object) -> str:
    """`value` for a terminal: control characters and bidi overrides as visible escapes."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(value))


def ticket_line(ticket: Ticket) -> str:
    """One ticket in `tickets list`."""
    received = ticket.received_at.strftime("%Y-%m-%d %H:%M")
    return f"{ticket.number}  {ticket.status:<12} {ticket.channel:<5} {received}Z  {shown(ticket.subject)}"


def ticket_text(data: dict[str, Any]) -> str:
    """A ticket for a person at a terminal: the fields, then the messages in order."""
    lines = [f"{data['number']}  [{data['status']}]  {shown(data['subject'])}"]
    for key, value in data.items():
        if key not in _NOT_FIELDS and value not in (None, [], ""):
            lines.append(f"  {key + ':':<23}{shown(', '.join(value) if isinstance(value, list) else value)}")
    lines += [f"  review reason:         {shown(reason)}" for reason in data.get("review_reasons", [])]
    for clock, c in (data.get("sla") or {}).items():
        lines.append(f"  SLA {clock + ':':<19}{c['state']}, due {c['due_at']}"
                     + (f", done {c['done_at']}" if c["done_at"] else "") + f" ({c['explained']})")  # fmt: skip
    for m in data.get("messages", []):
        lines += ["", f"--- {m['at']}  {m['direction']} {m['kind']} ({m['channel']})  from {shown(m['from'])}"]
        lines += [f"    {shown(line)}" for line in m["text"].splitlines()]
        lines += [f"    [{'OCR text' if a['ocr_text'] else 'attachment'}] {shown(a['filename'])} ({a['content_type']}, "
                  f"{a['size']} bytes, sha256 {a['sha256']})" for a in m["attachments"]]  # fmt: skip
    if data.get("events"):
        lines += ["", "Events:"]
        lines += [f"  {e['at']}  {e['kind']:<16} {e['actor']:<10} {shown(_pairs(e['data']))}".rstrip() for e in data["events"]]
    return "\n".join(lines)


_NOT_FIELDS = ("number", "status", "subject", "messages", "question", "events", "review_reasons", "sla")


def _pairs(data: dict[str, Any]) -> str:
    """An event's data as key=value, lists joined with "; " (review reasons read as text)."""
    return " ".join(f"{k}={'; '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in data.items() if v is not None)


def outbox_json(row: Waiting) -> dict[str, Any]:
    return {
        "id": row.id,
        "ticket": row.ticket,
        "kind": row.kind,
        "channel": row.channel,
        "to": row.to,
        "state": row.state,
        "attempts": row.attempts,
        "next_try_at": iso(row.next_try_at),
        "last_error": row.last_error,
        "sent_at": iso(row.sent_at),
    }


def outbox_text(row: Waiting) -> str:
    """One line: what, to whom, and why it is still here (or when it went)."""
    what = f"#{row.id} {row.ticket or '-'} {row.kind} ({row.channel}) to {shown(row.to)}"
    if row.state == "sent":
        return f"{what}: sent {iso(row.sent_at)}, {row.attempts} tries"
    why = f"last try: {shown(row.last_error)}" if row.last_error else "not tried yet"
    when = f"next try {iso(row.next_try_at)}" if row.state == "pending" else row.state
    return f"{what}: {when}, {row.attempts} tries, {why}"


def hit_json(hit: Hit) -> dict[str, Any]:
    """A knowledge-base hit for `hotline kb search --json`."""
    return {"kind": str(hit.kind), "ref": hit.ref, "score": hit.score, "document": hit.document, "title": hit.title,
            "location": hit.location, "url": hit.url, "excerpt": hit.excerpt, "answered_at": iso(hit.at)}  # fmt: skip


def hit_text(hit: Hit, settings: Settings) -> str:
    """A hit as two lines for a terminal: what and where, then its first words."""
    if hit.kind == KbKind.ANSWER:
        at = hit.at.astimezone(settings.work_calendar.tz).strftime("%Y-%m-%d") if hit.at else "-"
        head = f"{hit.score:6.2f}  ticket {hit.ref} answered on {at}: {hit.document}"
    else:
        head = f"{hit.score:6.2f}  {hit.ref}  {hit.document}: {hit.title}" + (f"  {hit.url}" if hit.url else "")
    return f"{shown(head)}\n        {shown(' '.join(hit.excerpt.split())[:150])}"


def status_json(alive: list[Seen], accounts: list[str], held: dict[str, Holding], polled: dict[str, datetime | None],
                backlog: tuple[int, datetime | None]) -> dict[str, Any]:  # fmt: skip
    """`hotline status --json`: the daemons seen today (live: heartbeat within the lease),
    each account's lease (owner null when nobody holds it now) and last poll, and the
    routing backlog."""
    mailboxes = []
    for account in accounts:
        lease = held[account].as_json() if account in held else {"account": account, "owner": None, "generation": 0,
                                                                 "since": None, "expires_at": None}  # fmt: skip
        mailboxes.append({**lease, "last_poll": iso(polled.get(account))})
    count, oldest = backlog
    daemons = [{"instance": d.instance, "started_at": iso(d.started_at), "seen_at": iso(d.seen_at), "live": d.live}
               for d in alive]  # fmt: skip
    return {"daemons": daemons, "mailboxes": mailboxes, "backlog": count, "oldest_unrouted_at": iso(oldest)}


def status_text(status: dict[str, Any]) -> str:
    lines = [f"daemon {shown(d['instance'])}: started {d['started_at']}, "
             + (f"seen {d['seen_at']}" if d["live"] else f"gone (last seen {d['seen_at']})") for d in status["daemons"]]
    lines += [f"{m['account']}: " + (f"polled by {shown(m['owner'])} since {m['since']} (lease to {m['expires_at']})"
                                    if m["owner"] else "no daemon holds its lease")
             + f", last poll {m['last_poll'] or 'never'}" for m in status["mailboxes"]]  # fmt: skip
    if not status["mailboxes"]:
        lines.append("no IMAP account")
    oldest = f", oldest from {status['oldest_unrouted_at']}" if status["oldest_unrouted_at"] else ""
    lines.append(f"backlog: {status['backlog']} stored message(s) not yet routed{oldest}")
    return "\n".join(lines)
