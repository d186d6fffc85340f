"""GET /api/v1/search and the search page: shape, snippets, facets, paging, the header box."""

import re

import pytest

from tests.search.helpers import community, ids, reply, search, thread


@pytest.fixture
def content(site, admin, alice, bob):
    owner = site.signed_in(admin)
    (a, b) = community(site, owner, "cataloging", alice, bob, description="Catalogers")
    community(site, owner, "youth", alice, description="Youth services")
    t1 = thread(
        a, "cataloging", "Metadata for <script> tags", "Use **metadata** <b>wisely</b> & well."
    )
    t2 = thread(site.signed_in(alice), "youth", "Storytime metadata", "Metadata for picture books.")
    r = reply(b, t1["id"], "More metadata about serials")
    site.drain()
    return {"t1": t1, "t2": t2, "r": r, "alice": a, "owner": owner}


def test_answer_has_the_shape_api_md_describes(site, content):
    answer = search(site.anonymous(), "metadata")
    assert set(answer) >= {"total", "page", "per_page", "suggestion", "facets", "items"}
    assert answer["total"] == 3 and answer["page"] == 1 and answer["per_page"] == 20
    assert answer["facets"] == {
        "type": {"thread": 2, "post": 1},
        "community": {"cataloging": 2, "youth": 1},
    }
    item = next(i for i in answer["items"] if i["id"] == content["t2"]["id"])
    assert item["type"] == "thread"
    assert item["url"] == f"/threads/{content['t2']['id']}"
    assert item["community"] == "youth"
    assert item["author"] == "alice"
    assert item["title"] == "Storytime metadata"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*\+00:00$", item["created_at"])
    reply_item = next(i for i in answer["items"] if i["type"] == "post")
    assert reply_item["url"] == f"/posts/{content['r']['id']}"


def test_snippets_mark_matches_and_escape_everything_else(site, content):
    answer = search(site.anonymous(), "wisely")
    (item,) = answer["items"]
    assert "<mark>wisely</mark>" in item["snippet"]
    assert "&lt;b&gt;" in item["snippet"] and "<b>" not in item["snippet"]
    assert "&amp;" in item["snippet"]
    assert item["title"] == "Metadata for <script> tags"
    assert "&lt;script&gt;" in item["title_html"] and "<script>" not in item["title_html"]
    page = site.anonymous().get("/search", params={"q": "wisely"})
    assert "<mark>wisely</mark>" in page.text
    assert "<script> tags" not in page.text and "<b>wisely" not in page.text


def test_filters_paging_and_sorting(site, content):
    anyone = site.anonymous()
    assert ids(search(anyone, "metadata type:post")) == {content["r"]["id"]}
    assert ids(search(anyone, "metadata in:youth")) == {content["t2"]["id"]}
    assert ids(search(anyone, "metadata", community="youth")) == {content["t2"]["id"]}
    assert search(anyone, "metadata", type="thread")["total"] == 2
    assert search(anyone, "author:bob")["total"] == 1
    assert search(anyone, "metadata after:2999-01-01")["total"] == 0
    assert search(anyone, "metadata before:2999-01-01")["total"] == 3
    assert search(anyone, "metadata", after="2999-01-01")["total"] == 0
    first = search(anyone, "metadata", per_page=2)
    second = search(anyone, "metadata", per_page=2, page=2)
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert not ids(first) & ids(second)
    assert search(anyone, "metadata", page=9)["items"] == []
    newest = search(anyone, "metadata", sort="newest")
    dates = [i["created_at"] for i in newest["items"]]
    assert dates == sorted(dates, reverse=True)
    assert search(anyone, "metadata", per_page=1000)["per_page"] == 100


def test_parameters_that_mean_nothing_are_refused_not_ignored(site, content):
    """A mistyped date, type or order would quietly widen the search: the API says so
    (422, by field) and the page searches without it, saying what it left out."""
    anyone = site.anonymous()
    for params, field in (
        ({"after": "notadate"}, "after"),
        ({"before": "2025-13-40"}, "before"),
        ({"type": "bogus"}, "type"),
        ({"sort": "sideways"}, "sort"),
    ):
        answer = anyone.get("/api/v1/search", params={"q": "metadata", **params})
        assert answer.status_code == 422, (params, answer.text)
        assert set(answer.json()["error"]["fields"]) == {field}
    assert (
        anyone.get("/api/v1/search", params={"q": "metadata", "type": "library"}).status_code == 200
    )
    page = anyone.get("/search", params={"q": "metadata", "after": "notadate"})
    assert page.status_code == 200 and "Left out of this search" in page.text
    assert "after: A date, YYYY-MM-DD." in page.text
    assert "Storytime" in page.text  # searched all the same


def test_malformed_queries_never_fail(site, content):
    anyone = site.anonymous()
    for q in ['"', "(((", ")", "OR", "-", "*", "type:", "in:", 'a"b', "NOT NOT", "x" * 5000]:
        answer = anyone.get("/api/v1/search", params={"q": q})
        assert answer.status_code == 200, q
        assert anyone.get("/search", params={"q": q}).status_code == 200, q
    assert search(anyone, '"metadata for picture')["total"] >= 1  # unclosed: plain words


def test_an_or_with_a_stop_word_keeps_its_other_words(site, content):
    anyone = site.anonymous()
    everything = ids(search(anyone, "metadata"))
    assert len(everything) == 3
    for q in ("IT OR metadata", "metadata OR IT", "us OR metadata", '"the" OR metadata'):
        assert ids(search(anyone, q)) == everything, q
    assert ids(search(anyone, "(it OR metadata) serials")) == {content["r"]["id"]}


def test_a_query_of_only_common_words_says_why_it_found_nothing(site, content):
    anyone = site.anonymous()
    answer = search(anyone, "the")
    assert answer["total"] == 0
    assert [n["code"] for n in answer["notices"]] == ["common_words"]
    assert "“the” is too common to search for" in answer["notices"][0]["message"]
    assert search(anyone, "metadata")["notices"] == []
    page = anyone.get("/search", params={"q": "it OR the"})
    assert "“it”, “the” are too common to search for" in page.text


def test_did_you_mean_when_few_results(site, content):
    answer = search(site.anonymous(), "metadta")
    assert answer["total"] == 0
    assert answer["suggestion"] == "metadata"
    assert search(site.anonymous(), "metadata")["suggestion"] is None


def test_search_page_has_facets_help_and_pager(site, content):
    anyone = site.anonymous()
    empty = anyone.get("/search")
    assert empty.status_code == 200
    assert "How to search" in empty.text and "in:cataloging" in empty.text
    page = anyone.get("/search", params={"q": "metadata", "per_page": 1})
    assert "3 results" in page.text
    assert 'href="/search?q=metadata&amp;type=post"' in page.text
    assert 'href="/search?q=metadata&amp;community=youth"' in page.text
    assert 'rel="next"' in page.text
    filtered = anyone.get("/search", params={"q": "metadata", "type": "post"})
    assert "1 result" in filtered.text
    assert 'aria-current="true">Replies' in filtered.text


def test_header_search_box_on_every_page_prefills_in_on_community_pages(site, content):
    anyone = site.anonymous()
    home = anyone.get("/")
    assert 'role="search"' in home.text and 'action="/search"' in home.text
    assert '<label for="site-search"' in home.text and 'name="q"' in home.text
    board = anyone.get("/c/cataloging")
    assert 'id="site-search" name="q" maxlength="256" value="in:cataloging "' in board.text
    results = anyone.get("/search", params={"q": "in:youth metadata"})
    assert 'value="in:youth metadata"' in results.text


def _co_words(count: int) -> list[str]:
    """`count` different words starting with "co", all before "cozumel" in the index."""
    letters = "abcdefghijklmnopqrstuvwxy"
    return [f"co{a}{b}{c}" for a in letters for b in letters for c in letters][:count]


def test_a_prefix_finds_a_rare_word_among_many_that_start_alike(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "travel", alice)
    thread(a, "travel", "Word list", " ".join(_co_words(200)))
    island = thread(a, "travel", "Islands", "Diving off cozumel")
    site.drain()
    anyone = site.anonymous()
    answer = search(anyone, "co*")
    assert island["id"] in ids(answer)
    assert answer["notices"] == []


def test_a_prefix_that_starts_too_many_words_says_so(site, admin, alice):
    owner = site.signed_in(admin)
    (a,) = community(site, owner, "travel", alice)
    thread(a, "travel", "Word list", " ".join(_co_words(400)))
    common = thread(a, "travel", "Often", "cozumel cozumel")
    for n in range(3):
        thread(a, "travel", f"Trip {n}", "cozumel again")
    site.drain()
    anyone = site.anonymous()
    answer = search(anyone, "co*")
    assert common["id"] in ids(answer)  # the most frequent words are kept
    assert [n["code"] for n in answer["notices"]] == ["prefix_cut_short"]
    assert "Type more letters" in answer["notices"][0]["message"]
    assert "Type more letters" in anyone.get("/search", params={"q": "co*"}).text
    assert search(anyone, "coz*")["notices"] == []


def test_a_one_letter_prefix_says_why_it_is_left_out(site, content):
    anyone = site.anonymous()
    answer = search(anyone, "c*")
    assert answer["total"] == 0
    assert [n["code"] for n in answer["notices"]] == ["prefix_too_short"]
    assert "at least 2 letters" in answer["notices"][0]["message"]
    both = search(anyone, "m* serials")
    assert ids(both) == {content["r"]["id"]}
    assert [n["code"] for n in both["notices"]] == ["prefix_too_short"]
    assert "at least 2 letters" in anyone.get("/search", params={"q": "c*"}).text
