"""What consultants are offered (the best sections and similar answered tickets, under the
question in the new-ticket notification) and what `#doc REF` adds to an answer: the
"Dokumentacja:" block the user receives (SPEC.md rule 5)."""
from __future__ import annotations

import re
from dataclasses import dataclass

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
