"""The search index's schema: one index for threads, posts, library entries, members and
communities. Bump SCHEMA_VERSION whenever the fields or the analysis change: a different
version on disk makes the index rebuild at start."""

from __future__ import annotations

from whoosh.analysis import (
    STOP_WORDS,
    Analyzer,
    CharsetFilter,
    CommaSeparatedTokenizer,
    LowercaseFilter,
    Token,
)
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.lang.porter import stem
from whoosh.support.charset import accent_map
from whoosh.util.text import rcompile

from connect.search.codec import PackedPositions

# 2: words split at dots (4.2.9, files.example.org) and any other mark; accents folded.
SCHEMA_VERSION = 2
TYPES = ("thread", "post", "entry", "member", "community")
# Text fields a query word looks in, with the boost BM25F gives each one.
TEXT_FIELDS = ("title", "body", "extra")
TITLE_BOOST = 3.0
EXTRA_BOOST = 1.5
# Index term for "not in a community" (members).
NO_COMMUNITY = "0"
# What a word is, for the index and the query alike: runs of letters, digits and "_". Dots
# and Markdown marks split words, so "4.2.9" is the phrase "4 2 9" on both sides.
WORD_PATTERN = r"\w+"
_WORDS = rcompile(WORD_PATTERN)


def words(text: str) -> list[str]:
    """The words of `text` as the index cuts them (before stop words and stems)."""
    return _WORDS.findall(text)


def fold(text: str) -> str:
    """Lower case without accents: résumé -> resume (each character stays one character)."""
    text = text.lower()
    return text if text.isascii() else text.translate(accent_map)


class EnglishAnalyzer(Analyzer):
    """English text: words, lower case, accents folded, stop words out, Porter stems (cached).

    The same terms as Whoosh's StemmingAnalyzer, in one generator instead of four chained
    ones: analysis is most of the cost of indexing.
    """

    is_morph = True

    def __init__(self, minsize: int = 2, cachesize: int = 200_000) -> None:
        self.minsize = minsize
        self.cachesize = cachesize
        self.stops = frozenset(STOP_WORDS)
        self._ready()

    def _ready(self) -> None:
        self._expression = _WORDS
        self._stems: dict[str, str] = {}

    def __getstate__(self) -> dict:
        return {"minsize": self.minsize, "cachesize": self.cachesize, "stops": self.stops}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._ready()

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.__getstate__() == self.__getstate__()

    def has_morph(self) -> bool:
        return True

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        no_morph=False,
        **kwargs,
    ):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        stems, stops, minsize = self._stems, self.stops, self.minsize
        morph = not (no_morph or kwargs.get("nomorph"))
        matches = self._expression.finditer(value) if tokenize else ()
        pos = start_pos
        for match in matches:
            word = match.group(0)
            text = fold(word)
            # Single digits stay: they are the parts of versions and addresses (4.2.9).
            stopped = (len(text) < minsize and not text.isdigit()) or text in stops
            if stopped and removestops:
                continue
            if morph and not stopped:
                stemmed = stems.get(text)
                if stemmed is None:
                    if len(stems) >= self.cachesize:
                        stems.clear()
                    stemmed = stems[text] = stem(text)
                text = stemmed
            t.text = text
            t.boost = 1.0
            t.stopped = stopped
            if keeporiginal:
                t.original = word
            if positions:
                t.pos = pos
            if chars:
                t.startchar = start_char + match.start()
                t.endchar = start_char + match.end()
            if not stopped:
                pos += 1
            yield t
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            t.stopped = False
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t


def analyzer() -> EnglishAnalyzer:
    return EnglishAnalyzer()


def _text(**options) -> TEXT:
    field = TEXT(analyzer=analyzer(), **options)
    field.format = PackedPositions(field_boost=field.format.field_boost)
    return field


def _tags() -> KEYWORD:
    field = KEYWORD(stored=True, commas=True, lowercase=True)
    # Tags are matched whole (tag:etat), folded like words.
    field.analyzer = CommaSeparatedTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)
    return field


def make_schema() -> Schema:
    return Schema(
        # "thread:12": one document per searchable thing; updates replace it whole.
        key=ID(unique=True, stored=True),
        type=ID(stored=True, sortable=True),
        id=STORED,
        community=ID(stored=True, sortable=True),
        status=ID(stored=True),
        author_id=ID,
        author=ID(stored=True),
        thread=STORED,
        tags=_tags(),
        title=_text(stored=True, field_boost=TITLE_BOOST, spelling=True),
        body=_text(stored=True),
        # File names and tags as words: found by a plain word, not shown.
        extra=_text(field_boost=EXTRA_BOOST),
        # What a reply shows as its title (its thread's), not searched: only the thread is.
        heading=STORED,
        # A member's username (their page's address); `author` is for what people write.
        username=STORED,
        # Library entries: [(file name, start, end)] of each file's text inside `body`.
        files=STORED,
        created=DATETIME(stored=True, sortable=True),
    )
