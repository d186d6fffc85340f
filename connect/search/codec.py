"""Indexing speed-ups for Whoosh, which spends most of a rebuild in Python per posting:

- ConnectCodec: the W3 codec, but while a segment is written its field lengths stay in
  memory (writing postings read each one back from a file: a fifth of indexing time), and
  postings are added without per-posting type assertions.
- PackedPositions: term positions as a packed array instead of a pickled list of deltas.
- Segment: segment names drawn from the operating system's randomness. Whoosh draws them
  from the `random` module, whose state anything in the process may seed (Hypothesis does,
  for every example): two segments then get the same name and one overwrites the other's
  files, which broke the index with assertion errors in commits and merges.

The files are W3 files; the class names are recorded in the index, so keep them importable.
"""

from __future__ import annotations

import secrets
from array import array
from collections import defaultdict

from whoosh.codec import whoosh3
from whoosh.formats import Positions
from whoosh.system import _INT_SIZE
from whoosh.util.numeric import byte_to_length, length_to_byte, pack_uint


class ConnectCodec(whoosh3.W3Codec):
    def __init__(self, blocklimit: int = 128, compression: int = 0, inlinelimit: int = 1):
        # No zlib on posting blocks: a third less indexing time, faster reads, bigger files.
        # Short posting lists stay in blocks (inlinelimit 1): W3's inlined postings do not
        # survive a segment merge (values of value-less formats come back as str).
        super().__init__(blocklimit=blocklimit, compression=compression, inlinelimit=inlinelimit)

    def new_segment(self, storage, indexname):
        return Segment(self, indexname)

    def postings_writer(self, dbfile, byteids=False):
        return _PostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def per_document_writer(self, storage, segment):
        return _PerDocWriter(self, storage, segment)

    def per_document_reader(self, storage, segment):
        return _PerDocReader(storage, segment)


class Segment(whoosh3.W3Segment):
    _NAME_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"

    @classmethod
    def _random_id(cls, size=16):
        return "".join(secrets.choice(cls._NAME_CHARS) for _ in range(size))


class _PerDocWriter(whoosh3.W3PerDocWriter):
    def __init__(self, codec, storage, segment) -> None:
        super().__init__(codec, storage, segment)
        self._lengths: dict[str, bytearray] = {}

    def add_field(self, fieldname, fieldobj, value, length):
        super().add_field(fieldname, fieldobj, value, length)
        if length:
            column = self._lengths.setdefault(fieldname, bytearray())
            missing = self._docnum - len(column)
            if missing > 0:
                column.extend(bytes(missing))
            column.append(length_to_byte(length))

    def close(self):
        super().close()
        # Handed to the reader that add_postings() uses right after; it removes them.
        self._segment._connect_lengths = self._lengths


class _PerDocReader(whoosh3.W3PerDocReader):
    def __init__(self, storage, segment) -> None:
        super().__init__(storage, segment)
        self._memory = segment.__dict__.pop("_connect_lengths", None)

    def doc_field_length(self, docnum, fieldname, default=0):
        if self._memory is None:
            return super().doc_field_length(docnum, fieldname, default)
        column = self._memory.get(fieldname)
        if column is None or docnum >= len(column) or not column[docnum]:
            return default
        return byte_to_length(column[docnum])


class _PostingsWriter(whoosh3.W3PostingsWriter):
    def add_posting(self, id_, weight, vbytes, length=None):
        if len(self._ids) >= self._blocklimit:
            self._write_block()
        self._ids.append(id_)
        self._weights.append(weight)
        if weight > self._maxweight:
            self._maxweight = weight
        if vbytes:
            self._values.append(vbytes)
        if length:
            if self._minlength is None or length < self._minlength:
                self._minlength = length
            if length > self._maxlength:
                self._maxlength = length


class PackedPositions(Positions):
    """Positions (for phrases) packed as native unsigned ints after the count."""

    def word_values(self, value, analyzer, **kwargs):
        if not isinstance(value, str):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        boost = self.field_boost
        found = defaultdict(list)
        kwargs["positions"] = True
        for token in analyzer(value, **kwargs):
            if not token.stopped:
                found[token.text].append(token.pos)
        for word, positions in found.items():
            count = len(positions)
            yield word, count, count * boost, pack_uint(count) + array("I", positions).tobytes()

    def encode(self, poslist):
        return pack_uint(len(poslist)) + array("I", poslist).tobytes()

    def decode_positions(self, valuestring):
        positions = array("I")
        positions.frombytes(valuestring[_INT_SIZE:])
        return positions.tolist()
