"""The query language: parsing never fails, and malformed input degrades to plain words."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from connect.search import query as q
from connect.search.query import And, DateBound, Filter, Not, Or, Phrase, Prefix, Word


def test_words_phrases_and_operators():
    assert q.parse("linked data") == And((Word("linked"), Word("data")))
    assert q.parse('"linked data" marc') == And((Phrase(("linked", "data")), Word("marc")))
    assert q.parse("rda OR bibframe") == Or((Word("rda"), Word("bibframe")))
    assert q.parse("metadata -marc") == And((Word("metadata"), Not(Word("marc"))))
    assert q.parse("metadata NOT marc") == And((Word("metadata"), Not(Word("marc"))))
    assert q.parse("a AND b") == And((Word("a"), Word("b")))
    assert q.parse("catalog*") == Prefix("catalog")
    assert q.parse("(rda OR marc) records") == And(
        (Or((Word("rda"), Word("marc"))), Word("records"))
    )


def test_inline_filters():
    tree = q.parse(
        'author:@JDoe in:Cataloging type:entries tag:RDA after:2025-01-01 before:2025-06-30 "x y"'
    )
    assert tree == And(
        (
            Filter("author", "jdoe"),
            Filter("community", "cataloging"),
            Filter("type", "entry"),
            Filter("tags", "rda"),
            DateBound("after", date(2025, 1, 1)),
            DateBound("before", date(2025, 6, 30)),
            Phrase(("x", "y")),
        )
    )
    assert q.filters_of(tree)["community"] == "cataloging"


def test_bad_filter_values_become_words():
    assert q.parse("type:spaceship") == Word("spaceship")
    assert q.parse("after:yesterday") == Word("yesterday")
    assert q.parse("author:") == Word("author")


def test_malformed_input_degrades_to_plain_words():
    assert q.parse('"unclosed phrase') == And((Word("unclosed"), Word("phrase")))
    assert q.parse("((a b") == And((Word("a"), Word("b")))
    assert q.parse("a OR") == And((Word("a"), Word("OR")))
    assert q.parse("OR AND NOT") == And((Word("OR"), Word("AND"), Word("NOT")))
    assert q.parse("-") is None and q.parse("()") == None  # noqa: E711
    assert q.parse("") is None and q.parse("   ") is None
    assert q.parse("*") is None
    assert q.parse("c*") == Prefix("c") and q.analyze(Prefix("c")) is None  # too short


def test_queries_are_cut_at_256_characters():
    long = "word " * 200
    tree = q.parse(long)
    assert len(tree.children) == len(long[:256].split())


def test_analysis_stems_words_and_drops_stop_words():
    assert q.analyze(q.parse("the cataloging")) == q.Terms(("catalog",), "cataloging")
    assert q.analyze(q.parse("the")) is None
    # A stop word searches for nothing; the OR's other words still do.
    assert q.analyze(q.parse("the OR libraries")) == q.Terms(("librari",), "libraries")
    assert q.analyze(q.parse("the OR it")) is None


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_and_analyzes(text):
    tree = q.parse(text)
    q.analyze(tree)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ['"', "(", ")", "-", "*", "OR", "AND", "NOT", "in:", "type:", "after:", "x", "ab"]
        ),
        max_size=20,
    )
)
def test_operator_soup_parses(parts):
    q.analyze(q.parse(" ".join(parts)))
    q.analyze(q.parse("".join(parts)))
