"""RFC 6962 Merkle tree hashing over the reply log's leaves (SHA-256).

A leaf is `H(0x00 || leaf data)` and a node `H(0x01 || left || right)`. The tree over n
leaves splits at the largest power of two below n. Pure: bytes in, bytes out.

The log grows by appending, so its right edge is kept as a compact range: one subtree
root per set bit of the size, largest first (`Frontier`). Appending a leaf and taking the
root both cost O(log n): the database keeps the frontier in its log-head row, and every
checkpoint we mail is computed from it without reading the log.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def leaf_data(entry: dict[str, Any]) -> bytes:
    """The entry's canonical JSON: keys sorted, no spaces, UTF-8, non-ASCII kept as is."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962: the hash of the empty tree


@dataclass(frozen=True, slots=True)
class Frontier:
    """The roots of the perfect subtrees that make up a tree of `size` leaves, largest first."""

    size: int = 0
    roots: tuple[bytes, ...] = ()

    def append(self, leaf: bytes) -> Frontier:
        roots, carry, size = list(self.roots), leaf, self.size
        while size & 1:  # each trailing one bit is a subtree of the new leaf's height: merge
            carry = node_hash(roots.pop(), carry)
            size >>= 1
        return Frontier(self.size + 1, (*roots, carry))

    def extend(self, leaves: Sequence[bytes]) -> Frontier:
        frontier = self
        for leaf in leaves:
            frontier = frontier.append(leaf)
        return frontier

    def root(self) -> bytes:
        if not self.roots:
            return EMPTY_ROOT
        digest = self.roots[-1]
        for left in reversed(self.roots[:-1]):
            digest = node_hash(left, digest)
        return digest


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962, in one pass and O(log n) memory beyond the leaves."""
    return Frontier().extend(leaves).root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 2.1.1: the sibling hashes from the leaf up to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), tree_root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), tree_root(leaves[:k])]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)
