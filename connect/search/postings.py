"""What the search engine reads from the index and keeps: a term's postings in a segment,
read a block at a time, the per-segment columns that never change, and a bounded cache."""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from itertools import accumulate

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher

from connect.search.schema import TYPES

TYPE_CODES = {t: i for i, t in enumerate(TYPES)}


class SetCache:
    """Least-recently-used document sets, bounded by how many numbers they hold."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._data: OrderedDict = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            if key in self._data:
                return
            self._data[key] = value
            self._size += len(value) + 1
            while self._size > self.budget and len(self._data) > 1:
                _, old = self._data.popitem(last=False)
                self._size -= len(old) + 1


def leaf_postings(reader, fieldname: str, text: str) -> tuple[list[int], list[float]]:
    """A term's (document numbers, weights) in one segment, a block at a time.

    Deleted documents are included (they are subtracted later); weights are term
    frequencies times the field's boost, as Whoosh's BM25F reads them.
    """
    fieldobj = reader.schema[fieldname]
    term = fieldobj.to_bytes(text)
    terms = reader._terms
    if (fieldname, term) not in terms:
        return [], []
    matcher = terms.matcher(fieldname, term, fieldobj.format)
    ids: list[int] = []
    weights: list[float] = []
    if not isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
        return ids, weights
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        ids.extend(accumulate(matcher._data[0]))
        block = matcher._data[1]
        count = matcher._blocklength
        if block is None:
            weights.extend([1.0] * count)
        elif isinstance(block, float):
            weights.extend([block] * count)
        else:
            weights.extend(block)
        if matcher._lastblock:
            break
        matcher._goto(matcher._nextoffset)
    return ids, weights


@dataclass
class Postings:
    docs: frozenset[int]  # global document numbers
    ids: list[int]  # in the segment
    weights: list[float]

    def __len__(self) -> int:
        return len(self.ids) * 3


class Leaf:
    """Per-segment data that never changes: document types, communities and dates."""

    def __init__(self, reader, offset: int) -> None:
        types = list(reader.column_reader("type"))
        communities = list(reader.column_reader("community"))
        self.combo = array(
            "q",
            (
                (int(c or 0) << 3) | TYPE_CODES.get(t, 7)
                for t, c in zip(types, communities, strict=True)
            ),
        )
        created = reader.column_reader("created")
        self.created = array("q", getattr(created, "_reader", created))
        order = sorted(range(len(self.created)), key=self.created.__getitem__)
        self.sorted_created = array("q", (self.created[i] for i in order))
        self.sorted_docs = array("q", (offset + i for i in order))
        self._lengths: dict[str, bytes] = {}

    def lengths(self, reader, fieldname: str) -> bytes:
        """Each document's length in this field, as Whoosh's one-byte code."""
        found = self._lengths.get(fieldname)
        if found is None:
            column = reader._perdoc._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN)
            count = reader.doc_count_all()
            found = bytes(column[i] for i in range(count)) if column else bytes(count)
            self._lengths[fieldname] = found
        return found
