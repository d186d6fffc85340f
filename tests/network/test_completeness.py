"""Profile completeness: the owner's progress bar and checklist, and the directory's sort
and interest filter."""

import io
import re

from PIL import Image

from tests.network.conftest import community_with


def checklist(client, username: str) -> tuple[int, list[tuple[str, str]]] | None:
    """(percent, [(link, text)]) from the profile page, or None when no bar is shown."""
    html = client.get(f"/members/{username}").text
    if "<progress" not in html:
        return None
    section = html.split('class="manage completeness"', 1)[1].split("</section>", 1)[0]
    percent = int(re.search(r'<progress max="100" value="(\d+)"', section).group(1))
    return percent, re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', section)


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def test_owner_sees_what_is_missing_with_links(site, alice):
    percent, missing = checklist(site.signed_in(alice), "alice")
    assert percent == 0
    assert missing == [
        ("/members/alice/edit#f-avatar", "Add a photo"),
        ("/members/alice/edit#f-title", "Add your job title"),
        ("/members/alice/edit#f-organization", "Name your organization"),
        ("/members/alice/edit#f-bio", "Write a short bio"),
        ("/members/alice/edit#f-interests", "List your interests"),
        ("/communities", "Write your first post"),
        ("/communities", "Join your first community"),
    ]


def test_progress_follows_the_profile_and_reaches_100(site, root, alice):
    me = site.signed_in(alice)
    me.patch("/api/v1/members/alice", json={"title": "Archivist", "organization": "Riverside"})
    percent, missing = checklist(me, "alice")
    assert percent == 29 and len(missing) == 5
    me.patch(
        "/api/v1/members/alice",
        json={"bio": "Hello", "interests": "rda", "public_fields": []},  # hidden still counts
    )
    upload = me.put(
        "/api/v1/members/alice/avatar", files={"avatar": ("me.png", photo(), "image/png")}
    )
    assert upload.status_code == 200
    community_with(site, root, "cataloging", alice)
    assert checklist(me, "alice")[1] == [("/communities", "Write your first post")]
    me.post("/api/v1/communities/cataloging/threads", json={"title": "Hi", "body": "First"})
    assert checklist(me, "alice") == (100, [])


def test_only_the_owner_sees_it(site, admin, alice, bob):
    assert checklist(site.signed_in(bob), "alice") is None
    assert checklist(site.anonymous(), "alice") is None
    assert checklist(site.signed_in(admin), "alice") is None


def names(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [m["username"] for m in answer.json()["items"]]


def test_directory_sorts_by_most_complete_counting_public_fields_only(
    site, root, alice, bob, carol
):
    site.bearer(bob).patch(
        "/api/v1/members/bob", json={"title": "Cataloger", "bio": "Books", "interests": "rda"}
    )
    site.bearer(carol).patch("/api/v1/members/carol", json={"title": "Curator"})
    # Alice filled in more, but hides it: outsiders must not learn that from the order.
    site.bearer(alice).patch(
        "/api/v1/members/alice",
        json={"title": "A", "organization": "B", "bio": "C", "interests": "d", "public_fields": []},
    )
    community_with(site, root, "cataloging", carol)
    anyone = site.anonymous()
    assert names(anyone.get("/api/v1/members")) == ["alice", "bob", "carol", "root"]
    assert names(anyone.get("/api/v1/members?sort=complete")) == ["bob", "carol", "root", "alice"]
    assert names(anyone.get("/api/v1/members?sort=nonsense")) == ["alice", "bob", "carol", "root"]
    page = anyone.get("/members?sort=complete").text
    assert page.index("Bob Bibliographer") < page.index("Carol Curator") < page.index("Alice")
    assert '<option value="complete" selected>' in page


def test_directory_filters_by_interest(site, alice, bob, carol):
    site.bearer(alice).patch("/api/v1/members/alice", json={"interests": "RDA, Rare books"})
    site.bearer(bob).patch("/api/v1/members/bob", json={"interests": "rare books"})
    site.bearer(carol).patch("/api/v1/members/carol", json={"interests": "rare bookshops"})
    anyone = site.anonymous()
    assert names(anyone.get("/api/v1/members?interest=rare+books")) == ["alice", "bob"]
    assert names(anyone.get("/api/v1/members?interest=rda")) == ["alice"]
    assert names(anyone.get("/api/v1/members?interest=rare")) == []
    assert names(anyone.get("/api/v1/members?interest=%25")) == []
    page = anyone.get("/members?interest=rare+books").text
    assert "Alice Archivist" in page and "Bob Bibliographer" in page and "Carol" not in page
    # The profile's interests link to the filter.
    assert 'href="/members?interest=rare%20books"' in anyone.get("/members/bob").text
