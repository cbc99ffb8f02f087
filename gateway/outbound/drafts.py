"""Drafts: what an outgoing message will say, stored by the routing transaction instead of
the finished MIME.

Profiling `hotline ingest` showed composing (templates, email headers, flattening to
bytes) taking about 60% of the routing transaction, which holds SQLite's write lock (the
routing advisory lock on PostgreSQL). Routing now stores a draft (JSON: which message,
its facts, its fixed Message-ID); the outbox worker renders it at the first claim and
keeps the bytes, so a re-send is the same message.

An acknowledgement rendered then carries the checkpoint of the log as it stands after
the routing commit: one that includes the question's own entry, so the user's copy
witnesses their question, which a checkpoint read before routing could not.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from email.message import EmailMessage
from typing import Any

from gateway.outbound import compose
from gateway.outbound.compose import AckFacts, Attachment, Envelope, Notification
from gateway.outbound.templates import Templates
from gateway.knowledge.suggest import Suggestions


class Composer(StrEnum):
    """Which message of gateway/outbound/compose.py a draft becomes."""

    ACK_EMAIL = "ack-email"
    ACK_FAX = "ack-fax"
    CALLBACK = "callback"
    NOTIFICATION = "notification"


CHECKPOINTED = frozenset({Composer.ACK_EMAIL, Composer.ACK_FAX})  # the ones a user keeps as a witness


@dataclass(frozen=True, slots=True)
class Draft:
    """A message to render later: `args` are the composer's other arguments (JSON values);
    `attachments_of` names the inbox row whose stored attachments go along."""

    composer: Composer
    facts: AckFacts
    envelope: Envelope
    to: tuple[str, ...]
    args: Mapping[str, Any]
    attachments_of: int | None = None

    @property
    def message_id(self) -> str:
        return self.envelope.message_id

    def to_json(self) -> dict[str, Any]:
        facts = {**_plain(self.facts), "checkpoint": None}  # the render reads the latest
        return {"composer": str(self.composer), "facts": facts, "to": list(self.to),
                "envelope": _plain(self.envelope), "args": dict(self.args),
                "attachments_of": self.attachments_of}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Draft:
        facts = _dated(AckFacts, {**data["facts"], "hours": tuple(data["facts"]["hours"])},
                       "received_at", "effective_received_at", "ack_due_at")  # fmt: skip
        return cls(Composer(data["composer"]), facts, _dated(Envelope, data["envelope"], "date"), tuple(data["to"]),
                   data["args"], data["attachments_of"])  # fmt: skip


def render(draft: Draft, checkpoint: str | None, attachments: Sequence[Attachment], language: str,
           library: Templates) -> EmailMessage:  # fmt: skip
    """The finished message; `checkpoint` is the log's latest, for the messages that carry one."""
    facts = replace(draft.facts, checkpoint=checkpoint if draft.composer in CHECKPOINTED else None)
    env, to, args = draft.envelope, draft.to, draft.args
    match draft.composer:
        case Composer.ACK_EMAIL:
            return compose.ack_email(facts, env, to[0], args["subject"], args["in_reply_to"], args["references"],
                                     library=library)  # fmt: skip
        case Composer.ACK_FAX:
            return compose.ack_fax(facts, env, to[0], library=library)
        case Composer.CALLBACK:
            return compose.callback_notice(facts, env, to, args["phone"], args["question"], language=language,
                                           library=library)  # fmt: skip
        case Composer.NOTIFICATION:
            shown = args["note"]
            found = shown["suggestions"] and Suggestions.from_json(shown["suggestions"])
            note = Notification(facts=facts, **{**shown, "contacts": tuple(shown["contacts"]),
                                                "review": tuple(shown["review"]), "suggestions": found})  # fmt: skip
            return compose.notification(note, env, to, args["reply_to"], attachments, language=language,
                                        library=library)  # fmt: skip


def note_args(note: Notification) -> dict[str, Any]:
    """A notification's fields but its facts (the draft holds those), as JSON values."""
    args = {f.name: list(v) if isinstance(v := getattr(note, f.name), tuple) else v
            for f in fields(note) if f.name not in ("facts", "suggestions")}  # fmt: skip
    return {**args, "suggestions": note.suggestions.to_json() if note.suggestions else None}


def _plain(facts: AckFacts | Envelope) -> dict[str, Any]:
    """The fields as JSON values, one level deep (dataclasses.asdict copies recursively: a
    tenth of routing's remaining time in the profile)."""
    values = ((f.name, getattr(facts, f.name)) for f in fields(facts))
    return {k: v.isoformat() if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v for k, v in values}


def _dated(cls: Any, values: Mapping[str, Any], *names: str) -> Any:
    return cls(**{**values, **{n: datetime.fromisoformat(values[n]) for n in names}})
