"""The member directory: listed members only, filters, paging, and no search on hidden fields."""

import pytest

from connect.events import Event

PEOPLE = [
    # username, display name, organization, location
    ("ann", "Ann Abbott", "Riverside Public Library", "Springfield"),
    ("ben", "Ben Baker", "Riverside Public Library", "Shelbyville"),
    ("cat", "Cat Cole", "State Archives", "Springfield"),
    ("dan", "Dan Dunn", "University Library", "Capital City"),
    ("eve", "Eve Evans", "State Archives", "Ogdenville"),
]


@pytest.fixture
def people(site):
    for username, name, organization, location in PEOPLE:
        member = site.member(username, display_name=name)
        answer = site.bearer(member).patch(
            f"/api/v1/members/{username}",
            json={"organization": organization, "location": location},
        )
        assert answer.status_code == 200
    return site


def names(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [m["username"] for m in answer.json()["items"]]


def test_lists_listed_members_in_name_order_with_paging_fields(people):
    client = people.anonymous()
    answer = client.get("/api/v1/members")
    assert names(answer) == ["ann", "ben", "cat", "dan", "eve"]
    body = answer.json()
    assert body["total"] == 5
    assert body["page"] == 1
    assert body["per_page"] == 20
    assert body["items"][0]["organization"] == "Riverside Public Library"


def test_filter_by_name_organization_and_location(people):
    client = people.signed_in(people.member("zed", display_name="Zed Zorn"))
    assert names(client.get("/api/v1/members?q=cole")) == ["cat"]
    assert names(client.get("/api/v1/members?q=BEN")) == ["ben"]  # username, any case
    assert names(client.get("/api/v1/members?organization=riverside")) == ["ann", "ben"]
    assert names(client.get("/api/v1/members?location=springfield")) == ["ann", "cat"]
    assert names(client.get("/api/v1/members?organization=state&location=spring")) == ["cat"]
    # Any case, in every field.
    assert names(client.get("/api/v1/members?organization=RIVERSIDE")) == ["ann", "ben"]
    assert names(client.get("/api/v1/members?location=SpringField&q=COLE")) == ["cat"]
    people.member("zoe", display_name="Zoë Ørsted")
    for q in ("zoë ørsted", "ØRSTED", "Zoë", "rsted"):
        assert names(client.get("/api/v1/members", params={"q": q})) == ["zoe"], q
    answer = people.bearer(people.member("ola", display_name="Ola Nordmann"))
    assert answer.patch("/api/v1/members/ola", json={"location": "Tromsø"}).status_code == 200
    assert names(client.get("/api/v1/members", params={"location": "TROMSØ"})) == ["ola"]
    answer = client.get("/api/v1/members?q=nobody-like-this")
    assert names(answer) == [] and answer.json()["total"] == 0
    # LIKE wildcards are taken literally.
    assert names(client.get("/api/v1/members?q=%25")) == []
    assert names(client.get("/api/v1/members?organization=_")) == []


def test_html_directory_filters(people):
    page = people.anonymous().get("/members?organization=State+Archives")
    assert page.status_code == 200
    assert "Cat Cole" in page.text and "Eve Evans" in page.text
    assert "Ann Abbott" not in page.text
    assert "2 members" in page.text


def test_paging(people):
    client = people.anonymous()
    first = client.get("/api/v1/members?per_page=2&page=1")
    second = client.get("/api/v1/members?per_page=2&page=2")
    third = client.get("/api/v1/members?per_page=2&page=3")
    beyond = client.get("/api/v1/members?per_page=2&page=4")
    assert names(first) == ["ann", "ben"]
    assert names(second) == ["cat", "dan"]
    assert names(third) == ["eve"]
    assert names(beyond) == []
    for answer in (first, second, third, beyond):
        assert answer.json()["total"] == 5
        assert answer.json()["per_page"] == 2
    assert third.json()["page"] == 3
    # per_page is capped at 100 and nonsense falls back to defaults rather than failing.
    assert client.get("/api/v1/members?per_page=1000").json()["per_page"] == 100
    odd = client.get("/api/v1/members?per_page=abc&page=-3")
    assert odd.status_code == 200 and odd.json()["page"] == 1
    # Filters and paging combine; total counts the filtered set.
    answer = client.get("/api/v1/members?location=springfield&per_page=1&page=2")
    assert names(answer) == ["cat"] and answer.json()["total"] == 2
    past = client.get("/api/v1/members?location=springfield&per_page=1&page=3")
    assert names(past) == [] and past.json()["total"] == 2
    none = client.get("/api/v1/members?location=atlantis")
    assert names(none) == [] and none.json()["total"] == 0
    html = client.get("/members?per_page=2&page=2")
    assert "Cat Cole" in html.text and "Ann Abbott" not in html.text
    assert "Page 2 of 3" in html.text
    # The page size chosen is kept by the pager's links (members are not skipped).
    assert 'href="/members?' in html.text and "per_page=2&amp;page=3" in html.text
    assert "per_page=2&amp;page=1" in html.text


def test_unlisted_members_are_absent(people):
    ann = people.bearer(people.member("zoe", display_name="Zoe Zimmer"))
    assert ann.patch("/api/v1/members/zoe", json={"listed": False}).status_code == 200
    client = people.anonymous()
    assert "zoe" not in names(client.get("/api/v1/members?per_page=100"))
    assert names(client.get("/api/v1/members?q=zimmer")) == []
    assert client.get("/api/v1/members").json()["total"] == 5
    assert "Zoe Zimmer" not in client.get("/members?q=zoe").text
    # Unlisted is not invisible: the profile itself is still there for those with the link.
    assert client.get("/api/v1/members/zoe").status_code == 200


def test_a_private_field_cannot_be_used_to_find_someone(people):
    cat = people.bearer(people.member("cat2", display_name="Cat Two"))
    # cat2 works at the State Archives in Springfield but shows neither.
    answer = cat.patch(
        "/api/v1/members/cat2",
        json={
            "organization": "State Archives",
            "location": "Springfield",
            "public_fields": ["title", "bio"],
        },
    )
    assert answer.status_code == 200
    for client in (people.anonymous(), people.signed_in(people.member("zed"))):
        assert "cat2" not in names(client.get("/api/v1/members?organization=state"))
        assert "cat2" not in names(client.get("/api/v1/members?location=springfield"))
        # Still listed by name, with the hidden fields blanked.
        found = client.get("/api/v1/members?q=cat two").json()["items"]
        assert [m["username"] for m in found] == ["cat2"]
        assert found[0]["organization"] is None and found[0]["location"] is None
        assert "cat2" not in client.get("/members?location=Springfield").text

    # Making one field public again makes that field (only) searchable.
    cat.patch("/api/v1/members/cat2", json={"public_fields": ["location"]})
    client = people.anonymous()
    assert "cat2" in names(client.get("/api/v1/members?location=springfield"))
    assert "cat2" not in names(client.get("/api/v1/members?organization=state"))


def test_kept_pages_of_the_directory_follow_every_change(people):
    """A directory page is read once and kept for everyone; a sign-up, a rename or an
    unlisting shows to the very next request all the same, before the hub hears of it."""
    people.ctx.hub.on_events.clear()
    client = people.anonymous()
    for _ in range(3):
        assert names(client.get("/api/v1/members?q=a")) == ["ann", "ben", "cat", "dan", "eve"]
    assert people.ctx.directory.hits >= 2

    abe = people.bearer(people.member("abe", display_name="Abe Adams"))
    assert names(client.get("/api/v1/members?q=a"))[:2] == ["abe", "ann"]

    answer = abe.patch("/api/v1/members/abe", json={"display_name": "Zack Adams"})
    assert answer.status_code == 200
    assert names(client.get("/api/v1/members?q=a"))[-2:] == ["eve", "abe"]
    assert "Zack Adams" in client.get("/members?q=a").text

    assert abe.patch("/api/v1/members/abe", json={"listed": False}).status_code == 200
    answer = client.get("/api/v1/members?q=a")
    assert "abe" not in names(answer) and answer.json()["total"] == 5


def test_profile_edits_read_from_the_log_empty_the_kept_pages(people):
    """The hub hears other processes' profile edits; that empties the directory's cache
    (on PostgreSQL an edit's event can commit after a newer one was read)."""
    people.hub_caught_up()
    client = people.anonymous()
    client.get("/api/v1/members")
    client.get("/api/v1/members")
    assert len(people.ctx.directory) == 1
    index = people.ctx.directory_index
    assert names(client.get("/api/v1/members?q=ann")) == ["ann"]
    reads = index.full_reads
    for listener in people.ctx.hub.on_events:
        listener([Event(type="post.created")])
    assert len(people.ctx.directory) == 2
    assert names(client.get("/api/v1/members?q=ben")) == ["ben"]
    assert index.full_reads == reads
    for listener in people.ctx.hub.on_events:
        listener([Event(type="member.updated")])
    assert len(people.ctx.directory) == 0
    # The members' searchable text is read again too.
    assert names(client.get("/api/v1/members?q=cat")) == ["cat"]
    assert index.full_reads == reads + 1


def test_words_find_public_titles_and_organizations_too(people):
    client = people.anonymous()
    # PEOPLE's organizations are public (the default): "q" finds them like names.
    assert names(client.get("/api/v1/members?q=riverside")) == ["ann", "ben"]
    quiet = people.bearer(people.member("quinn", display_name="Quinn Q"))
    answer = quiet.patch(
        "/api/v1/members/quinn",
        json={"title": "Archivist", "organization": "Åbo Akademi", "public_fields": ["title"]},
    )
    assert answer.status_code == 200
    assert names(client.get("/api/v1/members?q=ARCHIVIST")) == ["quinn"]
    # Hidden from everyone, so not searchable by anyone.
    assert names(client.get("/api/v1/members?q=akademi")) == []
    quiet.patch("/api/v1/members/quinn", json={"public_fields": ["title", "organization"]})
    assert names(client.get("/api/v1/members?q=åbo")) == ["quinn"]


def test_every_order_finds_the_same_members_in_any_case(people):
    for username, name, fields in (
        ("ida", "Ida Island", {"interests": "Ærø, maps"}),
        ("jon", "Jon Jensen", {"interests": "ærø"}),
        ("kai", "Kai Krause", {"organization": "Straße AG"}),
        ("lea", "Léa Lefèvre", {"organization": "ÉCOLE des chartes"}),
    ):
        member = people.bearer(people.member(username, display_name=name))
        member.patch(f"/api/v1/members/{username}", json=fields).raise_for_status()
    client = people.anonymous()
    for filters, expected in (
        ({"interest": "Ærø"}, {"ida", "jon"}),
        ({"interest": "ÆRØ"}, {"ida", "jon"}),
        ({"organization": "strasse"}, {"kai"}),
        ({"organization": "STRASSE"}, {"kai"}),
        ({"organization": "straße"}, {"kai"}),
        ({"organization": "école"}, {"lea"}),
        ({"q": "ÉCOLE"}, {"lea"}),
        ({"q": "LÉA"}, {"lea"}),
    ):
        for sort in ("name", "complete"):
            found = names(client.get("/api/v1/members", params={**filters, "sort": sort}))
            assert set(found) == expected, (filters, sort)


FILTERS = [
    {"q": "a"},
    {"q": "ANN"},
    {"q": "library"},
    {"q": "ørsted"},
    {"q": "archivist"},
    {"organization": "state"},
    {"organization": "riverside", "location": "spring"},
    {"location": "SPRINGFIELD"},
    {"location": "tromsø"},
    {"interest": "Cataloging"},
    {"interest": "ÆRØ"},
    {"organization": "STRASSE"},
    {"q": "nobody at all"},
]


def test_filters_in_memory_find_what_sql_finds(people):
    """The directory matches filters in memory; the SQL scan (kept for the "most complete"
    order) must agree on who matches and in what order, hidden fields included."""
    from connect.members import service
    from connect.members.directory import DirectoryIndex

    odd = people.bearer(people.member("ole", display_name="Ole Ørsted"))
    odd.patch(
        "/api/v1/members/ole",
        json={
            "location": "Tromsø",
            "title": "Archivist",
            "interests": "cataloging, maps, Ærø",
            "organization": "Straße AG",
        },
    ).raise_for_status()
    shy = people.bearer(people.member("shy", display_name="Shy Archivist Fan"))
    shy.patch(
        "/api/v1/members/shy",
        json={
            "title": "Archivist",
            "location": "Tromsø",
            "interests": "Cataloging",
            "organization": "State Library",
            "public_fields": ["bio"],
        },
    ).raise_for_status()
    gone = people.bearer(people.member("gone", display_name="Ann Gone"))
    gone.patch("/api/v1/members/gone", json={"listed": False}).raise_for_status()

    async def both(filters: dict):
        criteria = [filters.get(k, "") for k in ("q", "organization", "location", "interest")]
        async with people.ctx.db.read() as session:
            in_sql = await service._matches(session, *criteria, "name")
            version = (await session.execute(service._DIRECTORY_VERSION)).scalar()
            snapshot = await DirectoryIndex().snapshot(session, version)
        return in_sql, snapshot.matches(*criteria)

    found = {}
    for filters in FILTERS:
        in_sql, in_memory = people.call(both, filters)
        assert in_memory == tuple(in_sql), filters
        found[str(filters)] = len(in_memory)
    # The cases above do find people (and "shy" only by name: the rest is hidden).
    assert found[str({"q": "ørsted"})] == 1 and found[str({"interest": "Cataloging"})] == 1
    assert found[str({"q": "archivist"})] == 2 and found[str({"location": "tromsø"})] == 1
    assert found[str({"q": "ANN"})] == 1
    assert found[str({"interest": "ÆRØ"})] == found[str({"organization": "STRASSE"})] == 1
    # No text holds NUL (PostgreSQL refuses it in text): such a filter finds nobody.
    for sort in ("name", "complete"):
        answer = people.anonymous().get(f"/api/v1/members?q=a%00b&sort={sort}")
        assert answer.json()["items"] == [] and answer.json()["total"] == 0


def test_the_kept_snapshot_follows_edits_without_reading_everyone_again(people):
    """After the first filter reads every listed member, a sign-up, an edit or an unlisting
    re-reads only that member, and shows to the very next request."""
    people.ctx.hub.on_events.clear()
    index = people.ctx.directory_index
    client = people.anonymous()
    assert names(client.get("/api/v1/members?location=springfield")) == ["ann", "cat"]
    assert index.full_reads == 1

    fay = people.bearer(people.member("fay", display_name="Fay Fox"))
    fay.patch("/api/v1/members/fay", json={"location": "Springfield"}).raise_for_status()
    assert names(client.get("/api/v1/members?location=springfield")) == ["ann", "cat", "fay"]
    fay.patch("/api/v1/members/fay", json={"public_fields": []}).raise_for_status()
    assert names(client.get("/api/v1/members?location=springfield")) == ["ann", "cat"]
    assert names(client.get("/api/v1/members?q=fox")) == ["fay"]
    fay.patch("/api/v1/members/fay", json={"listed": False}).raise_for_status()
    assert names(client.get("/api/v1/members?q=fox")) == []
    assert index.full_reads == 1

    # A request that read the log before the last edit is served the newer snapshot, not
    # one read afresh.
    async def older() -> int:
        async with people.ctx.db.read() as session:
            newest = await index.snapshot(session, 10**9)
            return len((await index.snapshot(session, 1)).members) - len(newest.members)

    assert people.call(older) == 0 and index.full_reads == 1

    # The hub's reading of a member event (another process's edit) drops the snapshot.
    people.ctx.directory_index.clear()
    assert names(client.get("/api/v1/members?q=ann")) == ["ann"]
    assert index.full_reads == 2
