"""People you may know: most shared first; never contacts, requests, blocks, the unlisted
or oneself."""

from tests.network.conftest import community_with, connect, refused, usernames


def people(site, member) -> list[str]:
    return usernames(site.bearer(member).get("/api/v1/me/suggestions"))


def test_ranked_by_shared_communities_organization_and_interests(site, root, alice, bob, carol):
    dave, erin, frank = site.member("dave"), site.member("erin"), site.member("frank")
    community_with(site, root, "one", alice, bob, carol)
    community_with(site, root, "two", alice, bob)
    community_with(site, root, "three", dave, frank)  # frank shares nothing with alice
    site.bearer(alice).patch(
        "/api/v1/members/alice", json={"organization": "State Archives", "interests": "rda, maps"}
    )
    site.bearer(dave).patch(
        "/api/v1/members/dave", json={"organization": "state archives", "interests": "Maps, RDA"}
    )
    site.bearer(erin).patch("/api/v1/members/erin", json={"interests": "maps"})
    answer = site.bearer(alice).get("/api/v1/me/suggestions")
    body = answer.json()
    # dave: organization + 2 interests = 3; bob: 2 communities; root: 2; carol: 1; erin: 1.
    assert usernames(answer) == ["dave", "bob", "root", "carol", "erin"]
    first = body["items"][0]
    assert first["same_organization"] is True
    assert first["shared_interests"] == ["Maps", "RDA"]
    assert first["reasons"] == ["also at state archives", "also into Maps, RDA"]
    assert body["items"][1]["shared_communities"] == 2
    assert all(item["can_connect"] for item in body["items"])
    assert body["total"] == 5


def test_excludes_contacts_requests_blocks_and_oneself(site, root, alice, bob, carol):
    dave, erin, frank = site.member("dave"), site.member("erin"), site.member("frank")
    community_with(site, root, "one", alice, bob, carol, dave, erin, frank)
    connect(site, alice, bob)
    site.bearer(alice).post("/api/v1/members/carol/contact")  # pending, by alice
    site.bearer(dave).post("/api/v1/members/alice/contact")  # pending, to alice
    site.bearer(alice).put("/api/v1/me/contacts/dave", json={"status": "ignored"})
    site.bearer(alice).put("/api/v1/me/blocks/erin")
    site.bearer(frank).put("/api/v1/me/blocks/alice")
    assert people(site, alice) == ["root"]
    # The other side of each, likewise.
    assert "alice" not in people(site, dave) + people(site, erin) + people(site, frank)


def test_connect_button_only_where_the_policy_allows(site, root, alice, bob, carol):
    community_with(site, root, "one", alice, bob, carol)
    site.bearer(bob).patch("/api/v1/members/bob", json={"contact_policy": "contacts"})
    items = site.bearer(alice).get("/api/v1/me/suggestions").json()["items"]
    assert {i["member"]["username"]: i["can_connect"] for i in items} == {
        "bob": False,
        "carol": True,
        "root": True,
    }
    page = site.signed_in(alice).get("/network").text
    suggestions = page.split("People you may know", 1)[1].split("</section>", 1)[0]
    assert "Bob Bibliographer" in suggestions
    assert 'action="/network/contacts/bob/request"' not in suggestions
    assert 'action="/network/contacts/carol/request"' in suggestions


def test_needs_sign_in(site):
    refused(site.anonymous().get("/api/v1/me/suggestions"), 401, "not_signed_in")


def test_shared_organization_and_interests_in_any_case_beyond_ascii(site, alice, bob, carol):
    site.bearer(alice).patch(
        "/api/v1/members/alice", json={"organization": "Straße AG", "interests": "Ærø"}
    )
    site.bearer(bob).patch("/api/v1/members/bob", json={"organization": "STRASSE AG"})
    site.bearer(carol).patch("/api/v1/members/carol", json={"interests": "maps, ÆRØ"})
    items = site.bearer(alice).get("/api/v1/me/suggestions").json()["items"]
    found = {i["member"]["username"]: i for i in items}
    assert set(found) == {"bob", "carol"}
    assert found["bob"]["same_organization"] is True
    assert found["carol"]["shared_interests"] == ["ÆRØ"]
