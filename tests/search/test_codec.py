"""The index stays whole when something in the process reseeds `random` (as Hypothesis does)."""

import random

from whoosh import index as whoosh_index
from whoosh.query import Every

from connect.search.codec import ConnectCodec
from connect.search.schema import make_schema


def test_segment_names_never_repeat_when_random_is_reseeded(tmp_path):
    ix = whoosh_index.create_in(str(tmp_path), make_schema())
    for n in range(4):
        random.seed(2026)  # the same state before every commit
        writer = ix.writer(codec=ConnectCodec())
        writer.add_document(key=f"post:{n}", type="post", title=f"Note {n}", body="catalog")
        writer.commit(merge=False)
    ix = whoosh_index.open_dir(str(tmp_path))
    names = [segment.segment_id() for segment in ix._segments()]
    assert len(names) == len(set(names)) == 4
    with ix.searcher() as searcher:
        found = {hit["key"] for hit in searcher.search(Every(), limit=None)}
    assert found == {f"post:{n}" for n in range(4)}
    # A merge of them all keeps every document.
    writer = ix.writer(codec=ConnectCodec())
    writer.commit(optimize=True)
    with whoosh_index.open_dir(str(tmp_path)).searcher() as searcher:
        assert searcher.doc_count() == 4
