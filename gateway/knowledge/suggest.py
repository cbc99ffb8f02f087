"""What consultants are offered (the best sections and similar answered tickets, under the
question in the new-ticket notification) and what `#doc REF` adds to an answer: the
"Dokumentacja:" block the user receives (SPEC.md rule 5)."""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.knowledge import index
from gateway.knowledge.index import Hit
from storage.models import Event, KbKind

SUGGESTED = "kb_suggested"  # the event that keeps what a notification listed, so "#doc 2" means what it showed
_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True, slots=True)
class Suggestions:
    sections: tuple[Hit, ...]
    answers: tuple[Hit, ...]

    def __bool__(self) -> bool:
        return bool(self.sections or self.answers)

    def to_json(self) -> dict[str, list[dict[str, object]]]:
        """As JSON values: a notification's draft keeps what it will list (gateway/outbound/drafts.py)."""
        return {"sections": [_hit_json(h) for h in self.sections], "answers": [_hit_json(h) for h in self.answers]}

    @classmethod
    def from_json(cls, data: dict[str, list[dict[str, Any]]]) -> Suggestions:
        return cls(*(tuple(_hit_of(h) for h in data[k]) for k in ("sections", "answers")))


def _hit_json(hit: Hit) -> dict[str, object]:
    return {**{f.name: getattr(hit, f.name) for f in fields(hit)}, "at": hit.at and hit.at.isoformat()}


def _hit_of(data: dict[str, Any]) -> Hit:
    at = data["at"] and datetime.fromisoformat(data["at"])
    return Hit(**{**data, "kind": KbKind(data["kind"]), "at": at})


def suggest(session: Session, text: str, min_score: float, exclude: str | None = None) -> Suggestions:
    """The three best sections and the three most similar answered tickets (not `exclude`,
    the ticket itself), none below `min_score`."""
    answers = [h for h in index.search(session, text, KbKind.ANSWER, 4, min_score) if h.ref != exclude][:3]
    return Suggestions(tuple(index.search(session, text, KbKind.SECTION, 3, min_score)), tuple(answers))


def resolve(session: Session, ticket_id: int, argument: str) -> tuple[list[Hit], list[str]]:
    """The sections `#doc` names: a number as the ticket's notification listed it, or a
    ref ("user-guide#4"); and an error line per one not found."""
    listed: list[str] = []
    found, errors = [], []
    for ref in filter(None, _SPLIT.split(argument)):
        if ref.isdigit():
            listed = listed or _listed(session, ticket_id)
            number = int(ref)
            if not 1 <= number <= len(listed):
                errors.append(f"#doc {ref}: the notification listed {len(listed)} documentation section(s)")
                continue
            ref = listed[number - 1]
        hit = index.by_ref(session, ref)
        if hit is None:
            errors.append(f'#doc {ref}: no documentation section "{ref}" (see hotline kb search)')
        else:
            found.append(hit)
    return found, errors


def _listed(session: Session, ticket_id: int) -> list[str]:
    data = session.scalars(select(Event.data).where(Event.ticket_id == ticket_id, Event.kind == SUGGESTED)
                           .order_by(Event.id.desc()).limit(1)).first()  # fmt: skip
    return list((data or {}).get("sections", []))


_LABELS = {"pl": ("Dokumentacja:", "s."), "en": ("Documentation:", "p.")}


def documentation_block(hits: list[Hit], language: str) -> str:
    """The lines an answer ends with: document, section, page, link."""
    heading, page = _LABELS.get(language, _LABELS["en"])
    lines = [heading]
    for hit in hits:
        place = f"{page} {hit.location.removeprefix('page=')}" if hit.location.startswith("page=") else ""
        parts = [hit.document, hit.title if hit.title != hit.document else "", place, hit.url or ""]
        lines.append("- " + ", ".join(p for p in parts if p))
    return "\n".join(lines)
