"""The knowledge base in the database: entries (documentation sections, answered tickets)
and their terms, ranked with BM25 by one aggregate query.

Why our own inverted index rather than SQLite FTS5 or PostgreSQL's tsvector: the same
tables and query serve both stores (several daemons on PostgreSQL share it, a new answer
is one transaction), Polish terms come from gateway/knowledge/terms.py on both (the
stores' own Polish support differs: FTS5 has none, tsvector needs a dictionary installed).
Ranking reads nothing but the postings of the question's terms, from the primary key of
kb_terms (kind, term, entry, covering the count and the entry's length: no join), and
BM25's collection statistics from kb_stats, kept as entries come and go. Each kind is its
own collection. With 100,000 past answers a suggestion (sections and answers) takes 13 ms
median, 22 ms at the 95th percentile on SQLite, 14 and 21 ms on PostgreSQL
(bench/kb_bench.py, a loaded 2-core machine); counting the entries for every suggestion
and joining each posting to its entry took 82 ms median before.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, desc, func, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from gateway.knowledge.terms import counts
from storage.models import KbDoc, KbKind, KbStats, KbTerm, table

K1, B = 1.2, 0.75  # BM25's usual constants
MAX_QUERY_TERMS = 24  # the rarest terms of a long question carry its meaning; the commonest only cost time


@dataclass(frozen=True, slots=True)
class Entry:
    """What is indexed: a section or an answered ticket, and the text it is found by."""

    kind: KbKind
    ref: str
    document: str
    title: str
    location: str
    url: str | None
    excerpt: str
    text: str
    source: str | None = None
    stamp: str | None = None
    message_pk: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A found entry with its BM25 score."""

    kind: KbKind
    ref: str
    document: str
    title: str
    location: str
    url: str | None
    excerpt: str
    at: datetime | None
    score: float


def add(session: Session, entry: Entry) -> None:
    """One entry and its terms (a #nokb marker has none)."""
    found: Counter[str] = Counter() if entry.kind == KbKind.PRIVATE else counts(entry.text)
    doc_id = session.execute(insert(table(KbDoc)).values(
        kind=entry.kind, ref=entry.ref, document=entry.document, title=entry.title, location=entry.location,
        url=entry.url, excerpt=entry.excerpt, source=entry.source, stamp=entry.stamp, message_pk=entry.message_pk,
        at=entry.at, length=sum(found.values())).returning(table(KbDoc).c.id)).scalar_one()  # fmt: skip
    _post(session.connection(), [(doc_id, entry.kind, found)])


def add_many(connection: Connection, docs: list[dict[str, Any]], found: list[Counter[str]]) -> None:
    """Entries given as kb_docs rows (with their ids; the length is counted here) and their
    term counts, in bulk: the postings sorted as the key keeps them and sent as plain
    tuples (COPY on PostgreSQL), without SQLAlchemy's per-row work: bench/kb_bench.py fills
    100,000 answers so in about a minute, where the per-answer path took three and more."""
    lengths = [sum(terms.values()) for terms in found]
    connection.execute(insert(table(KbDoc)), [{**doc, "length": n} for doc, n in zip(docs, lengths)])
    entries = [(doc["id"], KbKind(doc["kind"]), terms) for doc, terms in zip(docs, found)]
    rows = sorted((kind.value, t[:40], doc_id, n, length) for (doc_id, kind, terms), length in zip(entries, lengths)
                  for t, n in terms.items())  # fmt: skip
    columns = "kb_terms (kind, term, doc_id, tf, length)"
    if connection.dialect.name == "postgresql":  # psycopg's executemany is a round trip a row
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {columns} FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    else:
        connection.exec_driver_sql(f"INSERT INTO {columns} VALUES (?, ?, ?, ?, ?)", rows)
    _move_stats(connection, _moved(entries))


def _post(connection: Connection, entries: list[tuple[int, KbKind, Counter[str]]]) -> None:
    """The postings of new entries, and their kinds' statistics moved by them."""
    lengths = {doc_id: sum(found.values()) for doc_id, _, found in entries}
    rows = [{"kind": kind, "term": t[:40], "doc_id": doc_id, "tf": n, "length": lengths[doc_id]}
            for doc_id, kind, found in entries for t, n in found.items()]  # fmt: skip
    if rows:
        connection.execute(insert(table(KbTerm)), rows)
    _move_stats(connection, _moved(entries))


def _moved(entries: list[tuple[int, KbKind, Counter[str]]]) -> Counter[tuple[str, str]]:
    moved: Counter[tuple[str, str]] = Counter()
    for _, kind, found in entries:
        moved[kind, "docs"] += 1
        moved[kind, "length"] += sum(found.values())
    return moved


def _move_stats(connection: Connection, moved: Counter[tuple[str, str]]) -> None:
    """kb_stats += `moved` ({(kind, "docs"|"length"): change}); a #nokb marker counts nowhere."""
    stats = table(KbStats)
    for kind in {k for k, _ in moved if k != KbKind.PRIVATE}:
        connection.execute(update(stats).where(stats.c.kind == kind).values(
            docs=stats.c.docs + moved[kind, "docs"], length=stats.c.length + moved[kind, "length"]))  # fmt: skip


def remove(session: Session, doc_ids: list[int]) -> None:
    """Entries out of the index, their kinds' statistics with them."""
    if not doc_ids:
        return
    moved: Counter[tuple[str, str]] = Counter()
    for kind, docs, length in session.execute(select(KbDoc.kind, func.count(), func.sum(KbDoc.length))
                                              .where(KbDoc.id.in_(doc_ids)).group_by(KbDoc.kind)):  # fmt: skip
        moved[kind, "docs"] -= docs
        moved[kind, "length"] -= int(length or 0)
    _move_stats(session.connection(), moved)
    session.execute(delete(KbTerm).where(KbTerm.doc_id.in_(doc_ids)))
    session.execute(delete(KbDoc).where(KbDoc.id.in_(doc_ids)))


def clear(session: Session) -> None:
    """Everything out (`hotline kb index --rebuild`), the statistics back to nothing."""
    session.execute(delete(KbTerm))
    session.execute(delete(KbDoc))
    session.execute(update(KbStats).values(docs=0, length=0))


def search(session: Session, text: str, kind: KbKind, limit: int = 3, min_score: float = 0.0) -> list[Hit]:
    """The best `limit` entries of a kind for a text, best first, none below `min_score`.
    Each kind is its own collection (its own statistics), so a section's score does not
    sink as past answers pile up."""
    n_docs, total = session.execute(select(KbStats.docs, KbStats.length).where(KbStats.kind == kind)).one()
    weights = _weights(session, list(counts(text)), kind, n_docs)
    if not weights:
        return []
    avg = total / n_docs or 1.0
    idf = case({term: literal(w) for term, w in weights.items()}, value=KbTerm.term, else_=literal(0.0))
    saturation = KbTerm.tf * literal(K1 + 1) / (KbTerm.tf + literal(K1 * (1 - B)) + literal(K1 * B / avg) * KbTerm.length)
    score = func.sum(idf * saturation).label("score")
    best = session.execute(
        select(KbTerm.doc_id, score).where(KbTerm.kind == kind, KbTerm.term.in_(list(weights)))
        .group_by(KbTerm.doc_id).order_by(desc("score"), KbTerm.doc_id).limit(limit)
    ).all()
    scores = {row.doc_id: float(row.score) for row in best if float(row.score) >= min_score}
    docs = {d.id: d for d in session.scalars(select(KbDoc).where(KbDoc.id.in_(list(scores))))}
    return [_hit(docs[i], s) for i, s in scores.items()]


def _weights(session: Session, terms: list[str], kind: KbKind, n_docs: int) -> dict[str, float]:
    """BM25's idf of each query term the index knows, the `MAX_QUERY_TERMS` rarest."""
    if not terms or not n_docs:
        return {}
    df = dict(session.execute(select(KbTerm.term, func.count()).where(KbTerm.kind == kind, KbTerm.term.in_(terms))
                              .group_by(KbTerm.term)).all())  # fmt: skip
    rare = sorted(df, key=lambda t: (df[t], t))[:MAX_QUERY_TERMS]
    return {t: math.log(1 + (n_docs - df[t] + 0.5) / (df[t] + 0.5)) for t in rare}


def _hit(doc: KbDoc, score: float) -> Hit:
    return Hit(KbKind(doc.kind), doc.ref, doc.document, doc.title, doc.location, doc.url, doc.excerpt, doc.at,
               round(score, 2))  # fmt: skip


def by_ref(session: Session, ref: str) -> Hit | None:
    """A documentation section by the ref consultants write after #doc."""
    doc = session.scalars(select(KbDoc).where(KbDoc.ref == ref, KbDoc.kind == KbKind.SECTION).limit(1)).first()
    return None if doc is None else _hit(doc, 0.0)
