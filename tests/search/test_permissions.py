"""Search shows only what the caller may read: items, totals and facets, for every role."""

from datetime import timedelta

import pytest

from connect.accounts.models import User
from connect.db import utcnow
from tests.search.helpers import markers, moderate, reply, search, thread

COMMUNITIES = {"openc": "open", "closedc": "closed", "privc": "private"}


def suspend(site, member) -> None:
    async def run():
        async with site.ctx.db.transaction() as session:
            user = await session.get(User, member.id)
            user.suspended_until = utcnow() + timedelta(days=7)

    site.call(run)


@pytest.fixture
def world(site, admin, alice, bob):
    """Three communities, each with published, held, hidden and deleted posts by alice."""
    carol = site.member("carol")
    sam = site.member("sam")
    sitemod = site.member("sitemod", role="moderator")
    hermit = site.member("hermit")
    owner = site.signed_in(admin)
    a = site.signed_in(alice)
    for slug, visibility in COMMUNITIES.items():
        site.community(owner, slug, visibility=visibility, description=f"quokka mk{slug}about")
        for m in (alice, sam):
            assert (
                owner.put(
                    f"/api/v1/communities/{slug}/members/{m.username}", json={"role": "member"}
                ).status_code
                == 200
            )
        t = thread(a, slug, f"mk{slug}thread quokka", "quokka discussion")
        reply(a, t["id"], f"quokka mk{slug}pub")
        held = reply(a, t["id"], f"quokka mk{slug}held")
        hidden = reply(a, t["id"], f"quokka mk{slug}hidden")
        gone = reply(a, t["id"], f"quokka mk{slug}deleted")
        moderate(site, "post", held["id"], "pending")
        moderate(site, "post", hidden["id"], "hidden")
        assert a.delete(f"/api/v1/posts/{gone['id']}").status_code == 204
    assert (
        owner.put(
            "/api/v1/communities/closedc/members/carol", json={"role": "moderator"}
        ).status_code
        == 200
    )
    assert site.signed_in(bob).post("/api/v1/communities/openc/join").status_code == 200
    public = ["title", "location", "bio", "interests"]
    assert (
        a.patch(
            "/api/v1/members/alice",
            json={
                "organization": "mksecretorg",
                "bio": "quokka mkalicebio",
                "public_fields": public,
            },
        ).status_code
        == 200
    )
    assert (
        site.signed_in(hermit)
        .patch("/api/v1/members/hermit", json={"bio": "quokka mkhermit", "listed": False})
        .status_code
        == 200
    )
    suspend(site, sam)
    site.drain()
    return {
        "anonymous": site.anonymous(),
        "bob": site.signed_in(bob),
        "sam": site.signed_in(sam),
        "alice": a,
        "carol": site.signed_in(carol),
        "sitemod": site.signed_in(sitemod),
        "admin": owner,
    }


def base(slug: str) -> set[str]:
    return {f"mk{slug}thread", f"mk{slug}pub", f"mk{slug}about"}


EVERYTHING = {f"mk{s}{k}" for s in COMMUNITIES for k in ("held", "hidden")} | set().union(
    *(base(s) for s in COMMUNITIES)
)
# A closed community is listed for everyone (its name and description), its content is not.
LISTED = {"mkclosedcabout"}
EXPECTED = {
    "anonymous": base("openc") | LISTED,
    "bob": base("openc") | LISTED,
    # Suspended: public content only, and the communities they belong to listed.
    "sam": base("openc") | LISTED | {"mkprivcabout"},
    "alice": set().union(*(base(s) | {f"mk{s}held"} for s in COMMUNITIES)),
    "carol": base("openc") | base("closedc") | {"mkclosedcheld", "mkclosedchidden"},
    "sitemod": EVERYTHING,
    "admin": EVERYTHING,
}
NEVER = {f"mk{s}deleted" for s in COMMUNITIES} | {"mksecretorg", "mkhermit"}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_finds_exactly_what_it_may_read(world, role):
    client = world[role]
    expected = EXPECTED[role] | {"mkalicebio"}
    found = search(client, "quokka", per_page=100)
    assert markers(found) == expected
    # One document per marker, except a thread's title which its replies repeat.
    assert found["total"] == len(expected)
    assert sum(found["facets"]["type"].values()) == found["total"]
    readable = {s for s in COMMUNITIES if any(m.startswith(f"mk{s}") for m in expected)}
    assert set(found["facets"]["community"]) == readable
    assert sum(found["facets"]["community"].values()) == found["total"] - 1  # alice's profile
    for marker in (EVERYTHING | NEVER) - expected:
        missing = search(client, marker)
        assert missing["total"] == 0, (role, marker)
        assert missing["items"] == [] and missing["facets"] == {"type": {}, "community": {}}
        assert missing["suggestion"] is None or marker not in missing["suggestion"]


def test_the_html_page_shows_nothing_more_than_the_api(world):
    page = world["anonymous"].get("/search", params={"q": "quokka"})
    assert page.status_code == 200
    for marker in EVERYTHING - EXPECTED["anonymous"]:
        assert marker not in page.text.lower()
    assert "privc" not in page.text and "mkclosedcthread" not in page.text


def test_a_community_turned_private_vanishes_at_once(world, site):
    anyone, admin = world["anonymous"], world["admin"]
    assert "mkopencpub" in markers(search(anyone, "quokka", per_page=100))
    answer = admin.patch("/api/v1/communities/openc", json={"visibility": "private"})
    assert answer.status_code == 200
    # No indexing in between: permission is asked of the database on every query.
    found = search(anyone, "quokka", per_page=100)
    assert markers(found) == {"mkalicebio"} | LISTED
    assert found["total"] == 2 and found["facets"]["community"] == {"closedc": 1}
    assert search(world["carol"], "mkopencpub")["total"] == 0  # not a member
    assert search(world["bob"], "mkopencpub")["total"] == 1  # a member
    assert search(world["alice"], "mkopencpub")["total"] == 1
    admin.patch("/api/v1/communities/openc", json={"visibility": "open"})
    assert search(anyone, "mkopencpub")["total"] == 1


def test_filters_cannot_reach_around_permissions(world):
    anyone = world["anonymous"]
    for q in (
        "in:privc quokka",
        "in:closedc",
        "author:alice mkclosedcpub",
        "type:post mkprivcpub",
        'quokka OR "mkprivcpub"',
        "mkprivc*",
        "-quokka mkprivcpub",
    ):
        found = search(anyone, q, per_page=100)
        assert not markers(found) & (EVERYTHING - EXPECTED["anonymous"]), q
    assert search(anyone, "", community="privc")["total"] == 0
    closed = search(anyone, "quokka", community="closedc")
    assert markers(closed) == LISTED and closed["facets"]["type"] == {"community": 1}


def test_a_closed_community_is_found_like_the_directory_lists_it(world, site):
    """Name and description: what GET /communities shows everyone; private ones only members."""
    for role in ("anonymous", "bob", "sam"):
        listed = world[role].get("/api/v1/communities", params={"q": "Closedc"}).json()
        assert [c["slug"] for c in listed["items"]] == ["closedc"]
        (item,) = search(world[role], "closedc", type="community")["items"]
        assert item["url"] == "/c/closedc" and item["community"] == "closedc"
        assert search(world[role], "mkclosedcthread")["total"] == 0
    for role, client in world.items():
        listed = client.get("/api/v1/communities", params={"q": "Privc"}).json()["total"]
        assert search(client, "privc", type="community")["total"] == listed, role
        assert listed == (role in ("alice", "sam", "sitemod", "admin")), role
