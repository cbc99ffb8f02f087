"""Tesseract's own word list for a language, read from its traineddata file."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class Lexicon:
    """Tesseract's word list for a language (the LSTM's word DAWG in its traineddata), to
    look words up in: the same list tesseract's own beam search prefers words from."""

    def __init__(self, edges: np.ndarray, unichars: list[str], unicharset_size: int) -> None:
        flag_bit = int(np.ceil(np.log2(unicharset_size + 1)))
        self.letter_mask, self.flag_bit, self.next_bit = (1 << flag_bit) - 1, flag_bit, flag_bit + 3
        self.edges = edges.tolist()
        self.ids = {u: i for i, u in enumerate(unichars)}
        self.nodes: dict[int, dict[int, tuple[int, bool]]] = {}

    @classmethod
    def load(cls, traineddata: Path) -> Lexicon | None:
        """The word DAWG (component 19) and unicharset (21) of a traineddata file; None if
        it has none or cannot be read."""
        try:
            data = traineddata.read_bytes()
            count = int.from_bytes(data[:4], "little")
            offsets = np.frombuffer(data, dtype="<i8", count=count, offset=4).tolist()
            dawg, unicharset = _component(data, offsets, 19), _component(data, offsets, 21)
            if not dawg or not unicharset or int.from_bytes(dawg[:2], "little") != 42:
                return None
            size, edge_count = int.from_bytes(dawg[2:6], "little"), int.from_bytes(dawg[6:10], "little")
            edges = np.frombuffer(dawg, dtype="<u8", count=edge_count, offset=10)
            unichars = [line.split(" ")[0] for line in unicharset.decode("utf-8").splitlines()[1:]]
            return cls(edges, unichars, size)
        except (OSError, ValueError, UnicodeDecodeError):
            return None

    def _edges_of(self, node: int) -> dict[int, tuple[int, bool]]:
        """A node's forward edges: letter id -> (next node, a word may end here)."""
        if node not in self.nodes:
            out: dict[int, tuple[int, bool]] = {}
            edge = node
            while edge < len(self.edges):
                rec = self.edges[edge]
                flags = rec >> self.flag_bit
                if flags & 2:  # backward edges follow the forward ones
                    break
                out.setdefault(rec & self.letter_mask, (rec >> self.next_bit, bool(flags & 4)))
                if flags & 1:  # the node's last edge
                    break
                edge += 1
            self.nodes[node] = out
        return self.nodes[node]

    def __contains__(self, word: str) -> bool:
        node, end = 0, False
        for ch in word:
            letter = self.ids.get(ch)
            step = self._edges_of(node).get(letter) if letter is not None else None
            if step is None:
                return False
            node, end = step
        return end


def _component(data: bytes, offsets: list[int], index: int) -> bytes:
    """One component of a traineddata file: from its offset to the next present one."""
    if index >= len(offsets) or offsets[index] < 0:
        return b""
    later = [o for o in offsets[index + 1:] if o >= 0]
    return data[offsets[index]: later[0] if later else len(data)]
