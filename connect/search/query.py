"""The query language: words, "phrases", AND/OR/NOT and -word, prefix*, parentheses, and the
inline filters author:, in:, type:, tag:, after: and before:.

`parse(text)` never fails: input it cannot read as the language degrades to its plain words.
The result is a small tree; `analyze` turns words into index terms (stems) with the index's
analyzer, dropping stop words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from connect.search.schema import TYPES, analyzer, fold, words

MAX_QUERY = 256
MIN_PREFIX = 2
TYPE_ALIASES = {
    **{t: t for t in TYPES},
    "threads": "thread",
    "discussion": "thread",
    "discussions": "thread",
    "posts": "post",
    "reply": "post",
    "replies": "post",
    "entries": "entry",
    "library": "entry",
    "document": "entry",
    "documents": "entry",
    "file": "entry",
    "files": "entry",
    "members": "member",
    "people": "member",
    "person": "member",
    "communities": "community",
}
FILTERS = ("author", "in", "type", "tag", "after", "before")
TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<filter>(?:author|in|type|tag|after|before):(?:"[^"]*"|[^\s()"]+))
  | (?P<phrase>-?"[^"]*")
  | (?P<word>-?[^\s()"]+)
  | (?P<junk>.)
    """,
    re.VERBOSE | re.IGNORECASE,
)


# The tree ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    text: str


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]


@dataclass(frozen=True)
class Prefix:
    text: str


@dataclass(frozen=True)
class Filter:
    field: str  # type, author, community (a slug until the service resolves it), tags
    value: str


@dataclass(frozen=True)
class DateBound:
    field: str  # after or before
    day: date


@dataclass(frozen=True)
class And:
    children: tuple


@dataclass(frozen=True)
class Or:
    children: tuple


@dataclass(frozen=True)
class Not:
    child: object


# Analyzed leaves (index terms) -----------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """One user word as index terms: all must match."""

    stems: tuple[str, ...]
    original: str


@dataclass(frozen=True)
class PhraseTerms:
    stems: tuple[str, ...]


class Malformed(Exception):
    pass


# Parsing -------------------------------------------------------------------------------------


def cut(text: str) -> str:
    return (text or "")[:MAX_QUERY]


def parse(text: str):
    """The query tree for `text` (at most MAX_QUERY characters are read), or None if empty."""
    text = cut(text).strip()
    if not text:
        return None
    try:
        tokens = _tokens(text)
        tree, rest = _query(tokens, 0, top=True)
        if rest != len(tokens):
            raise Malformed("unbalanced")
        return tree
    except Malformed:
        return _and([_words(value) for value in text.split()])


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    for match in TOKEN_RE.finditer(text):
        kind = match.lastgroup
        value = match.group()
        if kind == "space":
            continue
        if kind == "junk":  # an unmatched quote
            raise Malformed(value)
        if kind == "word" and value in ("AND", "OR", "NOT", "&&", "||"):
            kind = {"&&": "AND", "||": "OR"}.get(value, value)
        tokens.append((kind, value))
    return tokens


def _query(tokens, i: int, *, top: bool):
    clauses = []
    while i < len(tokens):
        kind, _ = tokens[i]
        if kind == "close":
            if top:
                raise Malformed("unbalanced")
            break
        if kind == "AND":
            i += 1
            continue
        clause, i = _clause(tokens, i)
        if clause is not None:
            clauses.append(clause)
    return _and(clauses), i


def _clause(tokens, i: int):
    kind, value = tokens[i]
    if kind == "NOT":
        if i + 1 >= len(tokens):
            raise Malformed("dangling NOT")
        unit, i = _unit(tokens, i + 1)
        return (Not(unit) if unit is not None else None), i
    node, i = _unit(tokens, i)
    alternatives = [node]
    while i < len(tokens) and tokens[i][0] == "OR":
        if i + 1 >= len(tokens) or tokens[i + 1][0] in ("OR", "AND", "close"):
            raise Malformed("dangling OR")
        node, i = _unit(tokens, i + 1)
        alternatives.append(node)
    alternatives = [a for a in alternatives if a is not None]
    if len(alternatives) > 1:
        return Or(tuple(alternatives)), i
    return (alternatives[0] if alternatives else None), i


def _unit(tokens, i: int):
    kind, value = tokens[i]
    if kind == "open":
        inner, j = _query(tokens, i + 1, top=False)
        if j >= len(tokens) or tokens[j][0] != "close" or inner is None:
            raise Malformed("unbalanced")
        return inner, j + 1
    if kind in ("OR", "AND", "close"):
        raise Malformed("operator without a term")
    if kind == "NOT":
        raise Malformed("NOT NOT")
    negate = value.startswith("-") and len(value) > 1 and kind in ("word", "phrase")
    if negate:
        value = value[1:]
    node = _leaf(kind, value)
    if negate and node is not None:
        node = Not(node)
    return node, i + 1


def _words(value: str):
    """Text as the index cuts it into words: one word, or a phrase of its parts (a dotted
    4.2.9 or files.example.org is indexed as consecutive words), or None."""
    found = words(value)
    if not found:
        return None
    return Phrase(tuple(found)) if len(found) > 1 else Word(found[0])


def _leaf(kind: str, value: str):
    if kind == "phrase":
        return _words(value)
    if kind == "filter":
        field, _, raw = value.partition(":")
        node = _filter(field.lower(), raw.strip('"').strip())
        return node if node is not None else _leaf("word", raw.strip('"'))
    if value.endswith("*"):
        stem = value.rstrip("*").lower()
        if words(stem) == [stem]:
            return Prefix(stem)  # analyze() drops one shorter than MIN_PREFIX
        value = stem
    return _words(value)


def _filter(field: str, value: str):
    if not value:
        return None
    if field == "type":
        kind = TYPE_ALIASES.get(value.lower())
        return Filter("type", kind) if kind else None
    if field in ("after", "before"):
        day = parse_day(value)
        return DateBound(field, day) if day else None
    if field == "in":
        return Filter("community", value.lower())
    if field == "author":
        return Filter("author", value.lower().lstrip("@"))
    return Filter("tags", value.lower())


def parse_day(value: str) -> date | None:
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except (ValueError, AttributeError):
        return None


def _and(children):
    children = [c for c in children if c is not None]
    if not children:
        return None
    return children[0] if len(children) == 1 else And(tuple(children))


# Analysis ------------------------------------------------------------------------------------

_analyzer = analyzer()


def stems(text: str) -> tuple[str, ...]:
    return tuple(t.text for t in _analyzer(text))


def analyze(node):
    """Replace words by their index terms; words that are only stop words drop out."""
    if node is None:
        return None
    if isinstance(node, Word):
        found = stems(node.text)
        return Terms(found, node.text.lower()) if found else None
    if isinstance(node, Phrase):
        found = stems(" ".join(node.words))
        if not found:
            return None
        return PhraseTerms(found) if len(found) > 1 else Terms(found, " ".join(node.words).lower())
    if isinstance(node, Prefix):
        text = fold(node.text)
        return Prefix(text) if len(text) >= MIN_PREFIX else None
    if isinstance(node, Filter) and node.field == "tags":
        return Filter("tags", fold(node.value))
    if isinstance(node, And):
        return _and([analyze(c) for c in node.children])
    if isinstance(node, Or):
        # "the OR catalog": a stop word searches for nothing, the other words still do.
        children = [c for c in (analyze(c) for c in node.children) if c is not None]
        if not children:
            return None
        return children[0] if len(children) == 1 else Or(tuple(children))
    if isinstance(node, Not):
        child = analyze(node.child)
        return Not(child) if child is not None else None
    return node


def too_common(node) -> list[str]:
    """The query's words and phrases that search for nothing: only stop words ("the")."""
    found = []
    for current, _ in walk(node):
        if isinstance(current, (Word, Phrase)) and analyze(current) is None:
            found.append(current.text if isinstance(current, Word) else " ".join(current.words))
    return list(dict.fromkeys(reversed(found)))


def too_short(node) -> list[str]:
    """The query's prefixes too short to search for (c*: most words start that way)."""
    found = [c.text for c, _ in walk(node) if isinstance(c, Prefix) and analyze(c) is None]
    return list(dict.fromkeys(reversed(found)))


def walk(node):
    """Every node of the tree, with whether it sits under a NOT."""
    stack = [(node, False)]
    while stack:
        current, negated = stack.pop()
        if current is None:
            continue
        yield current, negated
        if isinstance(current, (And, Or)):
            stack.extend((c, negated) for c in current.children)
        elif isinstance(current, Not):
            stack.append((current.child, not negated))


def filters_of(node) -> dict[str, str]:
    """The positive filters a query sets (shown as chosen in the search page's facets)."""
    found: dict[str, str] = {}
    top = node.children if isinstance(node, And) else (node,)
    for child in top:
        if isinstance(child, Filter):
            found.setdefault(child.field, child.value)
        elif isinstance(child, DateBound):
            found.setdefault(child.field, child.day.isoformat())
    return found
