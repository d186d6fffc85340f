"""Snippets: the best short passage of a text with the matched words in <mark>, everything
else HTML-escaped.

Long texts (library documents) are not analyzed whole: a regular expression finds where the
query's words may start, the stretch where most different ones come together is chosen, and
only that stretch goes through the analyzer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from whoosh.support.charset import accent_map

from connect.search.schema import analyzer

SNIPPET_CHARS = 240
ANALYZE_WHOLE = 3_000  # texts up to this length are analyzed whole
WINDOW = 400
MAX_HITS = 20_000
MAX_SPANS = 200

_analyzer = analyzer()


@dataclass(frozen=True)
class Matcher:
    """The index terms to mark: exact stems and prefixes (from catalog*)."""

    stems: frozenset[str]
    prefixes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.stems or self.prefixes)

    def matches(self, term: str) -> bool:
        return term in self.stems or any(term.startswith(p) for p in self.prefixes)

    def pattern(self) -> re.Pattern | None:
        """Where a word with one of these stems may start (stems drop a letter or two)."""
        heads = {s[: max(3, len(s) - 1)] for s in self.stems} | set(self.prefixes)
        heads.discard("")
        if not heads:
            return None
        alternatives = "|".join(re.escape(h) for h in sorted(heads, key=len, reverse=True))
        return re.compile(rf"\b(?:{alternatives})", re.IGNORECASE)


def _tokens(text: str, offset: int = 0):
    for token in _analyzer(text, chars=True, mode="index"):
        yield token.text, token.startchar + offset, token.endchar + offset


def _best_region(text: str, pattern: re.Pattern, size: int) -> tuple[int, int] | None:
    """Where the most different query words come together (the regex finds word starts)."""
    hits = []
    for found in pattern.finditer(text):
        hits.append((found.start(), found.group(0).lower()))
        if len(hits) >= MAX_HITS:
            break
    if not hits:
        return None
    best, best_count = 0, 0
    inside: dict[str, int] = {}
    j = 0
    for i, (start, _) in enumerate(hits):
        while j < len(hits) and hits[j][0] - start <= size:
            inside[hits[j][1]] = inside.get(hits[j][1], 0) + 1
            j += 1
        if len(inside) > best_count:
            best, best_count = start, len(inside)
        head = hits[i][1]
        inside[head] -= 1
        if not inside[head]:
            del inside[head]
    return max(0, best - WINDOW // 2), min(len(text), best + WINDOW)


def _matched_spans(text: str, matcher: Matcher, size: int) -> list[tuple[int, int, str]]:
    if len(text) <= ANALYZE_WHOLE:
        regions = [(0, len(text))]
    else:
        pattern = matcher.pattern()
        # The query's terms are folded (resume for résumé): look in the text folded alike,
        # which keeps every character's offset (accent_map maps one character to one).
        folded = text if text.isascii() else text.translate(accent_map)
        region = _best_region(folded, pattern, size) if pattern else None
        regions = [region] if region else []
    spans = []
    for start, end in regions:
        # Start and end on word boundaries so that no word is cut in two.
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        spans.extend(
            (a, b, term) for term, a, b in _tokens(text[start:end], start) if matcher.matches(term)
        )
    return spans


def snippet(text: str, matcher: Matcher, *, size: int = SNIPPET_CHARS) -> tuple[str, int | None]:
    """(HTML passage, offset of its first match or None when nothing matched)."""
    text = text or ""
    spans = _matched_spans(text, matcher, size) if matcher else []
    if not spans:
        return _plain(text, size), None
    # The window holding the most different matched terms wins; the earliest on ties.
    spans = spans[:MAX_SPANS]
    best, best_score = 0, -1
    for i, (start, _, _) in enumerate(spans):
        inside = set()
        for _, b, term in spans[i:]:
            if b - start > size:
                break
            inside.add(term)
        if len(inside) > best_score:
            best, best_score = i, len(inside)
    first = spans[best][0]
    begin = _word_start(text, max(0, first - size // 4))
    end = _word_end(text, min(len(text), begin + size))
    marks = [(a, b) for a, b, _ in spans if a >= begin and b <= end]
    return _render(text, begin, end, marks), first


def mark_all(text: str, matcher: Matcher) -> str:
    """The whole (short) text with every match marked: titles."""
    text = text or ""
    if not matcher:
        return escape(text)
    marks = [(a, b) for term, a, b in _tokens(text) if matcher.matches(term)]
    return _render(text, 0, len(text), marks)


def _render(text: str, begin: int, end: int, marks: list[tuple[int, int]]) -> str:
    out = ["…" if begin > 0 else ""]
    position = begin
    for a, b in marks:
        if a < position:
            continue
        out.append(escape(text[position:a]))
        out.append(f"<mark>{escape(text[a:b])}</mark>")
        position = b
    out.append(escape(text[position:end]))
    out.append("…" if end < len(text) else "")
    return " ".join("".join(out).split())


def _plain(text: str, size: int) -> str:
    end = _word_end(text, min(len(text), size))
    return " ".join((escape(text[:end]) + ("…" if end < len(text) else "")).split())


def _word_start(text: str, i: int) -> int:
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


def _word_end(text: str, i: int) -> int:
    limit = min(len(text), i + 30)
    while i < limit and not text[i].isspace():
        i += 1
    return i
