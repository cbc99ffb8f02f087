"""`hotline register prove NUMBER`: a ticket's entries, each with its RFC 6962 inclusion
proof against the latest signed checkpoint, and the verifier key to check that checkpoint.

Anyone checks a proof with the public key alone: verify the checkpoint's signature, hash
the entry's canonical JSON into its leaf (`H(0x00 || data)`), then fold the proof's hashes
in from the leaf up (RFC 9162 2.1.3.2) and compare with the checkpoint's root.
"""
from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.register import log
from gateway.register.checkpoint import Checkpoint, sign, verifier_key
from gateway.register.merkle import inclusion_proof
from storage.models import Ticket


def prove(session: Session, number: str, origin: str, key: Ed25519PrivateKey) -> dict[str, Any] | None:
    """The proofs as one JSON-ready object; None when there is no such ticket."""
    if session.scalar(select(Ticket.id).where(Ticket.number == number)) is None:
        return None
    tree = log.head(session)
    leaves = log.leaves(session, tree.size)
    return {
        "ticket": number,
        "checkpoint": sign(Checkpoint(origin, tree.size, tree.root()), key),
        "verifier_key": verifier_key(origin, key.public_key()),
        "entries": [{"index": line.index, "leaf_hash": line.leaf_hash, "entry": line.entry,
                     "proof": [h.hex() for h in inclusion_proof(leaves, line.index)]}
                    for line in log.of_ticket(session, number, tree.size)],  # fmt: skip
    }
