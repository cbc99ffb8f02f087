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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


def leaf_data(entry: dict[str, Any]) -> bytes:
    """The entry's canonical JSON: keys sorted, no spaces, UTF-8, non-ASCII kept as is."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes | memoryview, right: bytes | memoryview) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962: the hash of the empty tree
DIGEST = 32  # bytes of a SHA-256 hash


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


@dataclass(frozen=True, slots=True)
class Levels:
    """Every perfect subtree's hash, level by level (level 0: the leaves), each level one
    string of 32-byte digests: built once in n hashes, after which each inclusion or
    consistency proof takes O(log^2 n) lookups and hashes, not a pass over the log
    (a million-entry log: ~64 MB and about a second to build).

    Every range an RFC 6962 proof asks the hash of starts at a multiple of its left part's
    size (the splits are powers of two from the left), so it is one stored perfect subtree
    or a few of them joined from the right."""

    size: int
    levels: tuple[bytes, ...]

    @classmethod
    def build(cls, leaves: Iterable[bytes]) -> Levels:
        """Appended into one buffer per level as they stream in (a join would first hold a
        million small bytes objects)."""
        level = bytearray()
        for leaf in leaves:
            level += leaf
        levels = [bytes(level)]
        while len(level) >= 2 * DIGEST:
            below, level = memoryview(levels[-1]), bytearray()
            for i in range(0, len(below) - DIGEST, 2 * DIGEST):
                level += node_hash(below[i : i + DIGEST], below[i + DIGEST : i + 2 * DIGEST])
            levels.append(bytes(level))
        return cls(len(levels[0]) // DIGEST, tuple(levels))

    def subtree(self, start: int, stop: int) -> bytes:
        """MTH(D[start:stop]) for a range whose left parts are aligned (all a proof needs)."""
        width = stop - start
        if width & (width - 1) == 0 and start % width == 0:
            level = width.bit_length() - 1
            offset = (start >> level) * DIGEST
            return self.levels[level][offset : offset + DIGEST]
        k = _split(width)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, stop))

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """PATH(m, D[n]) of RFC 6962 2.1.1: the sibling hashes from the leaf up to the root."""
        if not 0 <= index < size <= self.size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        path, lo, hi = [], 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self.subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(self.subtree(lo, lo + k))
                lo += k
        return path[::-1]

    def consistency(self, old: int, size: int) -> list[bytes]:
        """PROOF(m, D[n]) of RFC 6962 2.1.2: what shows a tree of `size` leaves extends the
        one of `old` leaves (empty when they are the same tree)."""
        if not 0 < old <= size <= self.size:
            raise ValueError(f"no consistency proof from size {old} to {size}")
        return self._subproof(old, 0, size, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        if m == hi - lo:
            return [] if whole else [self.subtree(lo, hi)]
        k = _split(hi - lo)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self.subtree(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self.subtree(lo, lo + k)]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)
