"""`hotline register prove NUMBER`: a ticket's entries, each with its RFC 6962 inclusion
proof against the latest signed checkpoint, the verifier key to check that checkpoint, and
for each checkpoint the ticket's acknowledgements and answers carried (the user's own
witnesses) an RFC 6962 consistency proof that the latest tree extends it.

Anyone checks a proof with the public key alone: verify the checkpoint's signature, hash
the entry's canonical JSON into its leaf (`H(0x00 || data)`), then fold the proof's hashes
in from the leaf up (RFC 9162 2.1.3.2) and compare with the checkpoint's root; a
consistency proof is checked as RFC 9162 2.1.4.2 says, from the mail's checkpoint (size and
root) to the latest one.

The tree's levels are built once per command (n hashes), so each proof costs O(log^2 n),
not a pass over the log.
"""
from __future__ import annotations

import base64
import binascii
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.register import log
from gateway.register.checkpoint import Checkpoint, CheckpointError, parse, sign, verifier_key
from gateway.register.merkle import Levels
from storage.kinds import OutboxKind, OutboxState
from storage.models import OutboxEntry, Ticket

CHECKPOINT_HEADER = "X-Hotline-Checkpoint"


def prove(session: Session, number: str, origin: str, key: Ed25519PrivateKey) -> dict[str, Any] | None:
    """The proofs as one JSON-ready object; None when there is no such ticket."""
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == number))
    if ticket_id is None:
        return None
    tree = log.head(session)
    levels = Levels.build(log.leaves(session, tree.size))  # once: each proof is then O(log^2 n)
    witnessed = [c for c in carried(session, ticket_id, origin, key) if 0 < c.size <= tree.size]
    return {
        "ticket": number,
        "checkpoint": sign(Checkpoint(origin, tree.size, tree.root()), key),
        "verifier_key": verifier_key(origin, key.public_key()),
        "entries": [{"index": line.index, "leaf_hash": line.leaf_hash, "entry": line.entry,
                     "proof": [h.hex() for h in levels.inclusion(line.index, tree.size)]}
                    for line in log.of_ticket(session, number, tree.size)],  # fmt: skip
        "consistency": [{"checkpoint": sign(c, key), "proof": [h.hex() for h in levels.consistency(c.size, tree.size)]}
                        for c in witnessed],  # fmt: skip
    }


def carried(session: Session, ticket_id: int, origin: str, key: Ed25519PrivateKey) -> list[Checkpoint]:
    """The distinct checkpoints in the ticket's sent acknowledgements and answers (their
    X-Hotline-Checkpoint header), smallest first; one that no longer verifies is left out
    (`register verify --checkpoint` is the place to say why)."""
    stmt = select(OutboxEntry.payload).where(OutboxEntry.ticket_id == ticket_id, OutboxEntry.state == OutboxState.SENT,
                                             OutboxEntry.kind.in_([OutboxKind.ACK, OutboxKind.ANSWER]))  # fmt: skip
    found: dict[int, Checkpoint] = {}
    for payload in session.scalars(stmt):
        header = BytesHeaderParser(policy=policy.default).parsebytes(payload or b"")[CHECKPOINT_HEADER]  # sent: rendered
        if header is None:  # sent without a key configured, or a fax
            continue
        try:
            checkpoint = parse(base64.b64decode(str(header), validate=True).decode("utf-8"), origin, key.public_key())
        except (CheckpointError, binascii.Error, UnicodeDecodeError):
            continue
        found[checkpoint.size] = checkpoint
    return [found[size] for size in sorted(found)]
