"""The states and kinds the store records, as plain StrEnums: importable without
SQLAlchemy (the command line lists them in its help)."""
from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    FAX = "fax"


class InboxState(StrEnum):
    NEW = "new"
    PROCESSED = "processed"
    QUARANTINED = "quarantined"


class TicketStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    PENDING = "pending"
    CLOSED = "closed"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class MessageKind(StrEnum):
    QUESTION = "question"
    FOLLOWUP = "followup"
    ACK = "ack"
    ANSWER = "answer"
    NOTE = "note"
    NOTIFICATION = "notification"
    AUTOREPLY = "autoreply"
    BOUNCE = "bounce"
    HELD = "held"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxKind(StrEnum):
    ACK = "ack"
    ANSWER = "answer"
    NOTICE = "notice"  # to the consultants: call-back tasks, failed deliveries, new tickets
    REMINDER = "reminder"  # SLA: a stage of a running clock, to the assignee or the team
    ESCALATION = "escalation"  # SLA: a breach, to escalate_to as well
    CHECKPOINT = "checkpoint"  # the reply log's daily checkpoint, to [register] checkpoint_to


class PromiseStep(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    NOTIFY = "notify"


class LogKind(StrEnum):
    """What a reply-log entry records (SPEC "Register and reply log")."""

    QUESTION = "question"  # a question received: the sha256 of its raw bytes
    FOLLOWUP = "followup"  # a user's follow-up received, likewise
    ACK = "ack"  # an acknowledgement sent: the sha256 of the message as sent
    ANSWER = "answer"  # an answer sent, likewise
    CLOSE = "close"
    REOPEN = "reopen"
    SEVERITY = "severity"
    SLA = "sla"  # a ticket's SLA clocks as they froze when it closed


class KbKind(StrEnum):
    """What a knowledge-base entry is: a documentation section, a past answer, or an
    answer kept out (#nokb: a marker, never ranked)."""

    SECTION = "section"
    ANSWER = "answer"
    PRIVATE = "private"
