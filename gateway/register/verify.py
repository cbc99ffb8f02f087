"""`hotline register verify`: the log file against itself, against the database, and the
tree against each checkpoint given. Pure: it walks two streams of lines once, in O(log n)
memory, and says the first problem in words an auditor can act on (None: all holds).

Each file line must carry the next index and a leaf hash that is the hash of its entry
(else it was altered, inserted, removed or reordered); it must equal the database's entry
of that index; a checkpoint of size s must have the root of the first s leaves (else the
log was truncated or rewritten since it was signed: RFC 6962's consistency, checked by
recomputing the tree, since we hold every leaf).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import zip_longest

from gateway.register.checkpoint import Checkpoint
from gateway.register.log import Line
from gateway.register.merkle import Frontier, leaf_data, leaf_hash


def first_problem(file: Iterable[Line], stored: Iterable[Line], head: Frontier, checkpoints: Sequence[Checkpoint]) -> str | None:
    tree, sizes = Frontier(), {c.size for c in checkpoints}  # a root to compare only at these sizes
    for position, (mine, theirs) in enumerate(zip_longest(file, stored)):
        if problem := _line_problem(position, mine, theirs):
            return problem
        tree = tree.append(bytes.fromhex(mine.leaf_hash))
        if tree.size in sizes and (problem := _checkpoint_problem(tree, checkpoints)):
            return problem
    if head.size != tree.size or head.root() != tree.root():
        return f"the database's log head (size {head.size}) does not match its {tree.size} entries"
    for checkpoint in checkpoints:
        if checkpoint.size > tree.size:
            return (f"a checkpoint of size {checkpoint.size} is longer than the log ({tree.size} entries): "
                    "the log was truncated")  # fmt: skip
    return None


def _line_problem(position: int, mine: Line | None, theirs: Line | None) -> str | None:
    if mine is None:
        return f"entry {position}: in the database, missing from the log file (the file was cut short)"
    if mine.index != position:
        return (f"log file line {position + 1}: entry {mine.index} where {position} was expected "
                "(an entry removed, inserted or reordered)")  # fmt: skip
    if _leaf(mine) != mine.leaf_hash:
        return f"entry {position}: altered in the log file (its leaf hash does not match its content)"
    if theirs is None:
        return f"entry {position}: in the log file, not in the database (inserted into the file)"
    if theirs.entry == mine.entry and theirs.leaf_hash == mine.leaf_hash:
        return None  # the same entry and hash: the hash just checked holds for both
    if _leaf(theirs) != theirs.leaf_hash:
        return f"entry {position}: altered in the database (its leaf hash does not match its content)"
    if theirs.leaf_hash != mine.leaf_hash:
        return f"entry {position}: the log file and the database disagree"
    return None


def _checkpoint_problem(tree: Frontier, checkpoints: Sequence[Checkpoint]) -> str | None:
    for checkpoint in checkpoints:
        if checkpoint.size == tree.size and checkpoint.root != tree.root():
            return (f"the log does not extend the checkpoint of size {checkpoint.size}: its first {tree.size} "
                    "entries were rewritten since it was signed")  # fmt: skip
    return None


def _leaf(line: Line) -> str:
    return leaf_hash(leaf_data(line.entry)).hex()
