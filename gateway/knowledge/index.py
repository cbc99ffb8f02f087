"""The knowledge base in the database: entries (documentation sections, answered tickets)
and their terms, ranked with BM25 by one aggregate query.

Why our own inverted index rather than SQLite FTS5 or PostgreSQL's tsvector: the same
tables and query serve both stores (several daemons on PostgreSQL share it, a new answer
is one transaction), Polish terms come from gateway/knowledge/terms.py on both (the
stores' own Polish support differs: FTS5 has none, tsvector needs a dictionary installed),
and measured on 100,000 past answers the query stays under 50 ms (bench/kb_bench.py).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, desc, func, insert, literal, select
from sqlalchemy.orm import Session

from gateway.knowledge.terms import counts
from storage.models import KbDoc, KbKind, KbTerm, table

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
    if found:
        session.execute(insert(table(KbTerm)), [{"term": t[:40], "doc_id": doc_id, "tf": n} for t, n in found.items()])


def remove(session: Session, doc_ids: list[int]) -> None:
    if doc_ids:
        session.execute(delete(KbTerm).where(KbTerm.doc_id.in_(doc_ids)))
        session.execute(delete(KbDoc).where(KbDoc.id.in_(doc_ids)))


def search(session: Session, text: str, kind: KbKind, limit: int = 3, min_score: float = 0.0) -> list[Hit]:
    """The best `limit` entries of a kind for a text, best first, none below `min_score`."""
    n_docs, avg_length = session.execute(
        select(func.count(KbDoc.id), func.avg(KbDoc.length)).where(KbDoc.kind != KbKind.PRIVATE)).one()
    weights = _weights(session, list(counts(text)), n_docs)
    if not weights:
        return []
    avg = float(avg_length or 1.0) or 1.0
    idf = case({term: literal(w) for term, w in weights.items()}, value=KbTerm.term, else_=literal(0.0))
    saturation = KbTerm.tf * literal(K1 + 1) / (KbTerm.tf + literal(K1 * (1 - B)) + literal(K1 * B / avg) * KbDoc.length)
    score = func.sum(idf * saturation).label("score")
    best = session.execute(
        select(KbTerm.doc_id, score).join(KbDoc, KbDoc.id == KbTerm.doc_id)
        .where(KbTerm.term.in_(list(weights)), KbDoc.kind == kind)
        .group_by(KbTerm.doc_id).order_by(desc("score"), KbTerm.doc_id).limit(limit)
    ).all()
    scores = {row.doc_id: float(row.score) for row in best if float(row.score) >= min_score}
    docs = {d.id: d for d in session.scalars(select(KbDoc).where(KbDoc.id.in_(list(scores))))}
    return [_hit(docs[i], s) for i, s in scores.items()]


def _weights(session: Session, terms: list[str], n_docs: int) -> dict[str, float]:
    """BM25's idf of each query term the index knows, the `MAX_QUERY_TERMS` rarest."""
    if not terms:
        return {}
    df = dict(session.execute(
        select(KbTerm.term, func.count()).where(KbTerm.term.in_(terms)).group_by(KbTerm.term)).tuples().all())
    rare = sorted(df, key=lambda t: (df[t], t))[:MAX_QUERY_TERMS]
    return {t: math.log(1 + (n_docs - df[t] + 0.5) / (df[t] + 0.5)) for t in rare}


def _hit(doc: KbDoc, score: float) -> Hit:
    return Hit(KbKind(doc.kind), doc.ref, doc.document, doc.title, doc.location, doc.url, doc.excerpt, doc.at,
               round(score, 2))  # fmt: skip


def by_ref(session: Session, ref: str) -> Hit | None:
    """A documentation section by the ref consultants write after #doc."""
    doc = session.scalars(select(KbDoc).where(KbDoc.ref == ref, KbDoc.kind == KbKind.SECTION).limit(1)).first()
    return None if doc is None else _hit(doc, 0.0)
