"""Running a query against the index, in a search thread (never on the event loop).

Totals and facets must count every match the viewer may see, which Whoosh's collectors do one
document at a time in Python. Instead each query is also evaluated as sets of document numbers:
a term's set is read block by block from its postings and cached per segment (segments never
change, except for deletions, which are subtracted at the end). What the viewer may not see is
one more set, computed from the database's answer (`Access`) on every query. Ranking is BM25F
(Whoosh's formula and statistics, title boosted) computed here from the cached postings: Whoosh's
own collectors score one document at a time through layers of matchers, several times slower.
"""

from __future__ import annotations

import heapq
import threading
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time
from math import log

from whoosh import query as wq
from whoosh.util.numeric import byte_to_length
from whoosh.util.times import datetime_to_long

from connect.search import highlight
from connect.search.postings import Leaf, Postings, SetCache, leaf_postings
from connect.search.query import (
    And,
    DateBound,
    Filter,
    Not,
    Or,
    PhraseTerms,
    Prefix,
    Terms,
    stems,
    walk,
)
from connect.search.schema import TEXT_FIELDS, TYPES
from connect.search.store import IndexStore, IndexUnavailable

CACHED_IDS = 2_000_000  # document numbers kept in the term cache (~100 MB at most)
# Terms a prefix may stand for, the most frequent first; a prefix that starts more words
# searches these and says it was cut short. Each term is a few set unions (cached).
MAX_EXPANSIONS = 256
SCORED_EXPANSIONS = 64  # of those, the terms whose scores rank the results
SCAN_EXPANSIONS = 50_000  # index terms read at most to find the most frequent
FEW = 3  # fewer results than this: look for a spelling suggestion
NEWEST_SCAN = 5_000
B, K1 = 0.75, 1.2  # BM25F parameters (Whoosh's defaults)
LENGTHS = [byte_to_length(code) for code in range(256)]


@dataclass(frozen=True)
class Access:
    """What the database says the viewer may read, as index terms."""

    unreadable: frozenset[str]  # communities whose content the viewer may not read
    moderated: frozenset[str] | None  # communities they moderate; None: all of them
    viewer_id: str | None  # their own held posts stay visible to them
    # Of the unreadable ones, those the viewer may not even see listed (private): their own
    # documents (name, description) are hidden too, the others' are found like the directory.
    unlisted: frozenset[str] = frozenset()


@dataclass
class Plan:
    tree: object | None  # analyzed query; None lists everything (filters only)
    access: Access
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    suggest: bool = True


@dataclass
class Outcome:
    total: int
    hits: list[dict]
    types: dict[str, int]
    communities: dict[int, int]
    corrections: dict[str, str] = field(default_factory=dict)
    cut_prefixes: list[str] = field(default_factory=list)  # stood for only MAX_EXPANSIONS terms


@dataclass(frozen=True)
class Expansion:
    terms: tuple[str, ...]  # the most frequent first
    cut: bool  # more terms start this way than were kept


class View:
    """One searcher's picture of the index, with the sets computed on it."""

    def __init__(self, engine: Engine, searcher, folder: str) -> None:
        self.engine = engine
        self.searcher = searcher
        self.leaves = []
        self.deleted: set[int] = set()
        for reader, offset in searcher.ixreader.leaf_readers():
            if reader.segment() is None:
                continue  # an index with no segment yet (a new site): nothing to read
            key = (folder, reader.segment().segment_id(), offset)
            self.leaves.append((reader, offset, key))
            if reader.has_deletions():
                self.deleted.update(offset + d for d in reader.deleted_docs_set)
        self.size = searcher.doc_count_all()
        self._sets: dict = {}
        self._combo: array | None = None
        self._created: array | None = None

    def leaf(self, reader, offset: int, key) -> Leaf:
        cached = self.engine.leaves.get(key)
        if cached is None:
            cached = Leaf(reader, offset)
            self.engine.leaves[key] = cached
        return cached

    # Sets ------------------------------------------------------------------------------------

    def term(self, fieldname: str, text: str) -> frozenset[int]:
        key = ("term", fieldname, text)
        found = self._sets.get(key)
        if found is not None:
            return found
        parts = [p.docs for _, _, _, p in self.postings(fieldname, text) if p.docs]
        found = parts[0] if len(parts) == 1 else frozenset().union(*parts)
        self._sets[key] = found
        return found

    def postings(self, fieldname: str, text: str) -> list:
        """(reader, offset, leaf key, Postings) for each segment, cached per segment."""
        found = []
        for reader, offset, leaf_key in self.leaves:
            cache_key = (leaf_key, fieldname, text)
            postings = self.engine.terms.get(cache_key)
            if postings is None:
                ids, weights = leaf_postings(reader, fieldname, text)
                postings = Postings(frozenset(offset + d for d in ids), ids, weights)
                self.engine.terms.put(cache_key, postings)
            found.append((reader, offset, leaf_key, postings))
        return found

    # BM25F ------------------------------------------------------------------------------------

    def scores(self, stem: str) -> dict[int, float]:
        """BM25F score of every document holding this term, summed over the text fields."""
        key = ("scores", stem)
        found = self._sets.get(key)
        if found is not None:
            return found
        found = {}
        for fieldname in TEXT_FIELDS:
            part = self._field_scores(fieldname, stem)
            if not found:
                found = dict(part)
            else:
                for doc, score in part.items():
                    found[doc] = found.get(doc, 0.0) + score
        self._sets[key] = found
        return found

    def _field_scores(self, fieldname: str, text: str) -> dict[int, float]:
        searcher = self.searcher
        frequency = searcher.doc_frequency(fieldname, text)
        if not frequency:
            return {}
        idf = log(self.size / (frequency + 1)) + 1
        average = searcher.avg_field_length(fieldname) or 1.0
        top = idf * (K1 + 1)
        fixed, scaled = K1 * (1 - B), K1 * B / average
        found: dict[int, float] = {}
        for reader, offset, leaf_key, postings in self.postings(fieldname, text):
            if not postings.ids:
                continue
            codes = self.leaf(reader, offset, leaf_key).lengths(reader, fieldname)
            lengths = [LENGTHS[codes[i]] for i in postings.ids]
            found.update(
                zip(
                    [offset + i for i in postings.ids],
                    [
                        top * w / (w + fixed + scaled * n)
                        for w, n in zip(postings.weights, lengths, strict=True)
                    ],
                    strict=True,
                )
            )
        return found

    def rank(self, tree, docs: frozenset[int], count: int) -> list[int]:
        """The `count` best of `docs` by the summed BM25F scores of the query's terms."""
        tables = [self.scores(stem) for stem in _scored_stems(tree, self)]
        if not tables:
            return self.newest(docs, count)
        if len(tables) == 1:
            score = tables[0].get
            return heapq.nlargest(count, docs, key=lambda d: (score(d, 0.0), -d))
        getters = [t.get for t in tables]
        return heapq.nlargest(count, docs, key=lambda d: (sum(get(d, 0.0) for get in getters), -d))

    def word(self, stem: str) -> frozenset[int]:
        key = ("word", stem)
        if key not in self._sets:
            self._sets[key] = frozenset().union(*(self.term(f, stem) for f in TEXT_FIELDS))
        return self._sets[key]

    def everything(self) -> frozenset[int]:
        if ("all",) not in self._sets:
            self._sets[("all",)] = frozenset(range(self.size))
        return self._sets[("all",)]

    def expand(self, prefix: str) -> Expansion:
        """The index terms `prefix` stands for: the MAX_EXPANSIONS most frequent ones (by
        documents holding them), not the first ones in the index's order."""
        key = ("expand", prefix)
        found = self._sets.get(key)
        if found is not None:
            return found
        counts: Counter = Counter()
        cut = False
        for fieldname in TEXT_FIELDS:
            for reader, _, _ in self.leaves:
                for term, info in reader.iter_prefix(fieldname, prefix):
                    counts[term] += info.doc_frequency()
                    if len(counts) >= SCAN_EXPANSIONS:
                        cut = True
                        break
        best = heapq.nsmallest(MAX_EXPANSIONS, counts, key=lambda t: (-counts[t], t))
        terms = tuple(t.decode() if isinstance(t, bytes) else t for t in best)
        found = Expansion(terms, cut or len(counts) > MAX_EXPANSIONS)
        self._sets[key] = found
        return found

    def docs(self, node) -> frozenset[int]:
        if isinstance(node, Terms):
            return _intersect([self.word(s) for s in node.stems])
        if isinstance(node, PhraseTerms):
            phrase = wq.Or([wq.Phrase(f, list(node.stems)) for f in ("title", "body")])
            return frozenset(phrase.docs(self.searcher))
        if isinstance(node, Prefix):
            terms = self.expand(node.text).terms
            return frozenset().union(*(self.word(t) for t in terms)) if terms else frozenset()
        if isinstance(node, Filter):
            return self.term(node.field, node.value)
        if isinstance(node, DateBound):
            return self.dated(node)
        if isinstance(node, And):
            positive = [self.docs(c) for c in node.children if not isinstance(c, Not)]
            result = _intersect(positive) if positive else self.everything()
            for child in node.children:
                if isinstance(child, Not) and result:
                    result = result - self.docs(child.child)
            return result
        if isinstance(node, Or):
            return frozenset().union(*(self.docs(c) for c in node.children))
        if isinstance(node, Not):
            return self.everything() - self.docs(node.child)
        raise TypeError(f"unknown query node {node!r}")

    def dated(self, bound: DateBound) -> frozenset[int]:
        import bisect

        limit = datetime_to_long(datetime.combine(bound.day, time()))
        found: set[int] = set()
        for reader, offset, key in self.leaves:
            leaf = self.leaf(reader, offset, key)
            cut = bisect.bisect_left(leaf.sorted_created, limit)
            part = leaf.sorted_docs[cut:] if bound.field == "after" else leaf.sorted_docs[:cut]
            found.update(part)
        return frozenset(found)

    def hidden(self, access: Access) -> frozenset[int]:
        """Documents this viewer may not see (plus deleted ones)."""
        key = ("hidden", access)
        if key in self._sets:
            return self._sets[key]
        parts = [self.term("status", "deleted"), frozenset(self.deleted)]
        listing = self.term("type", "community")
        parts += [
            self.term("community", c)
            if c in access.unlisted
            else self.term("community", c) - listing
            for c in access.unreadable
        ]
        if access.moderated is not None:
            moderated = frozenset().union(*(self.term("community", c) for c in access.moderated))
            pending = self.term("status", "pending") - moderated
            if access.viewer_id:
                pending = pending - self.term("author_id", access.viewer_id)
            parts += [pending, self.term("status", "hidden") - moderated]
        found = frozenset().union(*parts)
        self._sets[key] = found
        return found

    # Counting and ordering ---------------------------------------------------------------------

    def combo(self) -> array:
        if self._combo is None:
            combo = array("q")
            for reader, offset, key in self.leaves:
                combo.extend(self.leaf(reader, offset, key).combo)
            self._combo = combo
        return self._combo

    def created(self) -> array:
        if self._created is None:
            created = array("q")
            for reader, offset, key in self.leaves:
                created.extend(self.leaf(reader, offset, key).created)
            self._created = created
        return self._created

    def facets(self, docs: frozenset[int]) -> tuple[dict[str, int], dict[int, int]]:
        counts = Counter(map(self.combo().__getitem__, docs))
        types: Counter = Counter()
        communities: Counter = Counter()
        for code, n in counts.items():
            kind = code & 7
            if kind < len(TYPES):
                types[TYPES[kind]] += n
            if code >> 3:
                communities[code >> 3] += n
        return dict(types), dict(communities)

    def newest(self, docs: frozenset[int], count: int) -> list[int]:
        created = self.created()
        if len(docs) <= NEWEST_SCAN:
            return heapq.nlargest(count, docs, key=lambda d: (created[d], d))
        streams = [
            reversed(self.leaf(r, o, k).sorted_docs) for r, o, k in self.leaves
        ]  # each newest first
        found = []
        for doc in heapq.merge(*streams, key=created.__getitem__, reverse=True):
            if doc in docs:
                found.append(doc)
                if len(found) == count:
                    break
        return found


def _intersect(sets: list[frozenset[int]]) -> frozenset[int]:
    sets = sorted(sets, key=len)
    result = sets[0]
    for other in sets[1:]:
        if not result:
            break
        result = result & other
    return result


# Scoring --------------------------------------------------------------------------------------


def _scored_stems(tree, view: View) -> list[str]:
    """The index terms that rank results: positive words, phrase words and prefix terms."""
    stems: list[str] = []
    for node, negated in walk(tree):
        if negated:
            continue
        if isinstance(node, (Terms, PhraseTerms)):
            stems.extend(node.stems)
        elif isinstance(node, Prefix):
            stems.extend(view.expand(node.text).terms[:SCORED_EXPANSIONS])
    return list(dict.fromkeys(stems))


def highlight_terms(tree, view: View) -> highlight.Matcher:
    found: set[str] = set()
    prefixes: list[str] = []
    for node, negated in walk(tree):
        if negated:
            continue
        if isinstance(node, (Terms, PhraseTerms)):
            found.update(node.stems)
        elif isinstance(node, Prefix):
            prefixes.append(node.text)
    return highlight.Matcher(frozenset(found), tuple(prefixes))


# Running --------------------------------------------------------------------------------------


class Engine:
    def __init__(self, store: IndexStore) -> None:
        self.store = store
        self.terms = SetCache(CACHED_IDS)
        self.leaves: dict = {}
        self._local = threading.local()

    def view(self) -> View:
        searcher = self.store.searcher()
        local = self._local
        if getattr(local, "searcher", None) is not searcher:
            local.view = View(self, searcher, self.store.current_name() or "")
            local.searcher = searcher
            self._forget_old_leaves(local.view)
        return local.view

    def _forget_old_leaves(self, view: View) -> None:
        """Drop the oldest segments' data past 64, but never the new view's: the big
        segments were read first and outlive hundreds of small ones."""
        for _, _, key in view.leaves:
            leaf = self.leaves.pop(key, None)
            if leaf is not None:
                self.leaves[key] = leaf  # newest last
        if len(self.leaves) > 64:  # segments merged away long ago
            for key in list(self.leaves)[: len(self.leaves) - 64]:
                self.leaves.pop(key, None)

    def run(self, plan: Plan) -> Outcome:
        try:
            return self._run(plan)
        except IndexUnavailable:
            raise
        except OSError:
            # A commit may have removed a file this searcher had not opened yet: reopen once.
            self.store.drop_searcher()
            self._local.searcher = None
            return self._run(plan)

    def _run(self, plan: Plan) -> Outcome:
        view = self.view()
        tree = plan.tree
        matched = view.docs(tree) if tree is not None else view.everything()
        allowed = matched - view.hidden(plan.access)
        total = len(allowed)
        types, communities = view.facets(allowed)
        start = (plan.page - 1) * plan.per_page
        wanted = start + plan.per_page
        if start >= total:
            page = []
        elif plan.sort == "newest" or tree is None:
            page = view.newest(allowed, wanted)[start:]
        else:
            page = view.rank(tree, allowed, wanted)[start:]
        matcher = (
            highlight_terms(tree, view) if tree is not None else highlight.Matcher(frozenset())
        )
        hits = [self._hit(view, docnum, matcher) for docnum in page]
        corrections = {}
        if plan.suggest and tree is not None and total < FEW:
            corrections = self._corrections(view, tree, plan.access, total)
        cut = [n.text for n, _ in walk(tree) if isinstance(n, Prefix) and view.expand(n.text).cut]
        return Outcome(total, hits, types, communities, corrections, sorted(set(cut)))

    @staticmethod
    def _hit(view: View, docnum: int, matcher: highlight.Matcher) -> dict:
        stored = view.searcher.stored_fields(docnum)
        title = stored.get("title") or stored.get("heading") or ""
        body = stored.get("body", "")
        passage, at = highlight.snippet(body, matcher)
        file = None
        for name, start, end in stored.get("files") or ():
            if at is None and file is None:
                file = name  # nothing matched inside: name the first file
            if at is not None and start <= at < end:
                file = name
        return {
            "type": stored["type"],
            "id": stored["id"],
            "title": title,
            "title_html": highlight.mark_all(title, matcher),
            "snippet": passage,
            "community_id": int(stored.get("community") or 0),
            "author": stored.get("author") or stored.get("username"),
            "thread_id": int(stored["thread"]) if stored.get("thread") else None,
            "created": stored.get("created"),
            "file": file,
            "status": stored.get("status"),
        }

    @staticmethod
    def _corrections(view: View, tree, access: Access, total: int) -> dict[str, str]:
        """Better-known spellings of the query's words, when they find more for this viewer."""
        corrections: dict[str, str] = {}
        corrector = view.searcher.corrector("title")
        hidden = view.hidden(access)
        for node, negated in walk(tree):
            if negated or not isinstance(node, Terms) or len(node.stems) != 1:
                continue
            word = node.original
            if len(word) < 3 or not word.isalpha():
                continue
            current = len(view.word(node.stems[0]) - hidden)
            best, best_count = None, max(current, total)
            for candidate in corrector.suggest(word, limit=5, maxdist=2, prefix=1):
                candidate_stems = stems(candidate)
                if not candidate_stems or candidate == word:
                    continue
                count = len(_intersect([view.word(s) for s in candidate_stems]) - hidden)
                if count > best_count:
                    best, best_count = candidate, count
            if best:
                corrections[word] = best
        return corrections
