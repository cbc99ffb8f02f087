"""Keeping the index current: the documentation folders (a file read again only when its
size or time changed, its sections gone when it is) and the tickets answered since the
last round. Run by `hotline kb index` and by the daemon's `knowledge` job, each round in
its own transactions: never in the routing transaction, so intake never waits for it."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.knowledge import documents, index
from gateway.knowledge.documents import DocumentError, Section
from parsers.text import shorten
from storage.models import Event, KbDoc, KbKind, Message, MessageKind, Ticket

ANSWERS_PER_ROUND = 500
EXCERPT_CHARS = 300


@dataclass(frozen=True, slots=True)
class Problem:
    """Documentation that could not be indexed; the same source and stamp is the same
    problem, so the daemon warns once per change of the file, not every round."""

    source: str  # the file or folder
    stamp: str  # the file's size and mtime when read ("" for a folder)
    message: str


@dataclass(slots=True)
class Report:
    """What a run did (for `hotline kb index` and the log)."""

    files_read: int = 0
    files_removed: int = 0
    sections: int = 0
    answers: int = 0
    private: int = 0
    errors: list[Problem] = field(default_factory=list)


def sync_docs(factory: sessionmaker[Session], folders: Iterable[str], doc_url: str, report: Report,
              progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda files: files) -> None:  # fmt: skip
    """Each changed file re-read in its own transaction; files gone lose their sections."""
    seen: set[str] = set()
    for folder in map(Path, folders):
        files = list(documents.documents(folder)) if folder.is_dir() else []
        if not folder.is_dir():
            report.errors.append(Problem(str(folder), "", f"knowledge.docs: {folder} is not a folder"))
        with factory() as session:
            stamps = dict(session.execute(select(KbDoc.source, KbDoc.stamp).where(KbDoc.kind == KbKind.SECTION)).all())
        for path in progress(files):
            seen.add(str(path))
            stamp = _stamp(path)
            if stamps.get(str(path)) != stamp:
                _read_file(factory, path, folder, stamp, doc_url, report)
    with factory.begin() as session:
        gone = [i for i, s in session.execute(select(KbDoc.id, KbDoc.source).where(KbDoc.kind == KbKind.SECTION))
                if s not in seen]  # fmt: skip
        report.files_removed += len(gone)
        index.remove(session, gone)


def _stamp(path: Path) -> str:
    info = path.stat()
    return f"{info.st_size}:{info.st_mtime_ns}"


def _read_file(factory: sessionmaker[Session], path: Path, folder: Path, stamp: str, doc_url: str,
               report: Report) -> None:  # fmt: skip
    try:
        sections = documents.read(path, folder)
    except DocumentError as exc:
        report.errors.append(Problem(str(path), stamp, str(exc)))
        sections = []
    with factory.begin() as session:
        index.remove(session, list(session.scalars(select(KbDoc.id).where(KbDoc.source == str(path)))))
        for section in sections:
            index.add(session, _section_entry(section, str(path), stamp, doc_url))
    report.files_read += 1
    report.sections += len(sections)


def _section_entry(section: Section, source: str, stamp: str, doc_url: str) -> index.Entry:
    url = doc_url.format(path=section.path, anchor=section.location) if doc_url else None
    return index.Entry(KbKind.SECTION, section.ref, section.document, section.title, section.location, url,
                       shorten(" ".join(section.text.split()), EXCERPT_CHARS), section.text, source, stamp)  # fmt: skip


def index_answers(factory: sessionmaker[Session], report: Report) -> bool:
    """The answers not yet in the index (a #nokb one as a private marker); True when more wait."""
    with factory.begin() as session:
        rows = session.execute(
            select(Message, Ticket).join(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.kind == MessageKind.ANSWER, ~exists().where(KbDoc.message_pk == Message.id))
            .order_by(Message.id).limit(ANSWERS_PER_ROUND)
        ).all()
        for message, ticket in rows:
            private = _kept_out(session, message)
            index.add(session, _answer_entry(session, message, ticket, private))
            report.private += private
            report.answers += not private
    return len(rows) == ANSWERS_PER_ROUND


def _kept_out(session: Session, message: Message) -> bool:
    """#nokb came with this answer: its event has the answer's time on the same ticket."""
    return session.execute(select(exists().where(and_(
        Event.ticket_id == message.ticket_id, Event.kind == "nokb", Event.at == message.at)))).scalar_one()  # fmt: skip


def _answer_entry(session: Session, message: Message, ticket: Ticket, private: bool) -> index.Entry:
    question = session.scalars(select(Message.text).where(
        Message.ticket_id == ticket.id, Message.kind == MessageKind.QUESTION).order_by(Message.at).limit(1)).first()
    kind = KbKind.PRIVATE if private else KbKind.ANSWER
    return index.Entry(kind, ticket.number, ticket.subject, ticket.subject, "", None,
                       shorten(message.text.strip(), EXCERPT_CHARS),
                       f"{ticket.subject}\n{question or ''}\n{message.text}", message_pk=message.id, at=message.at)


def rebuild(factory: sessionmaker[Session]) -> None:
    """Everything out, to be indexed again (`hotline kb index --rebuild`)."""
    with factory.begin() as session:
        index.clear(session)


def run(factory: sessionmaker[Session], folders: Iterable[str], doc_url: str,
        progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda files: files) -> Report:  # fmt: skip
    """One whole pass: the documentation, then every answer not yet indexed."""
    report = Report()
    sync_docs(factory, folders, doc_url, report, progress)
    while index_answers(factory, report):
        pass
    return report
