"""Recommending posts: one per member, never your own, counts and who recommended."""

import re
from functools import partial

from tests.boards import helpers
from tests.boards.helpers import open_board
from tests.conftest import csrf_from, error_code

start = partial(helpers.start, title="Authority control", body="How do you do it?")


def recommend_count_in_html(html: str, post_id: int) -> int:
    match = re.search(
        rf'<a href="/posts/{post_id}/recommendations">(\d+) recommendations?</a>', html
    )
    assert match, f"no recommendation count for post {post_id}"
    return int(match.group(1))


def test_one_recommendation_per_member_and_counts_everywhere(site, admin, alice, bob):
    carol = site.member("carol", display_name="Carol Curator")
    _, (a, b, c) = open_board(site, admin, alice, bob, carol)
    thread = start(a)
    post_id = thread["first_post_id"]
    url = f"/api/v1/posts/{post_id}/recommend"

    assert b.post(url).json() == {"recommend_count": 1, "recommended": True}
    # A second click (or a retry) does not count twice.
    assert b.post(url).json() == {"recommend_count": 1, "recommended": True}
    assert c.post(url).json() == {"recommend_count": 2, "recommended": True}

    as_bob = b.get(f"/api/v1/threads/{thread['id']}").json()["posts"][0]
    assert as_bob["recommend_count"] == 2 and as_bob["recommended"] is True
    as_alice = a.get(f"/api/v1/threads/{thread['id']}").json()["posts"][0]
    assert as_alice["recommend_count"] == 2 and as_alice["recommended"] is False
    anonymous = site.anonymous().get(f"/api/v1/threads/{thread['id']}").json()["posts"][0]
    assert anonymous["recommend_count"] == 2 and anonymous["recommended"] is False
    assert site.anonymous().get(f"/api/v1/posts/{post_id}").json()["recommend_count"] == 2

    page = b.get(f"/threads/{thread['id']}").text
    assert recommend_count_in_html(page, post_id) == 2
    assert 'aria-pressed="true"' in page and ">Recommended<" in page

    # Taking it back: the count drops once, and a second DELETE changes nothing.
    assert b.delete(url).json() == {"recommend_count": 1, "recommended": False}
    assert b.delete(url).json() == {"recommend_count": 1, "recommended": False}
    assert (
        recommend_count_in_html(site.anonymous().get(f"/threads/{thread['id']}").text, post_id) == 1
    )
    page = b.get(f"/threads/{thread['id']}").text
    assert 'aria-pressed="false"' in page and ">Recommend<" in page
    assert b.post(url).json() == {"recommend_count": 2, "recommended": True}


def test_who_recommended_is_listed_in_api_and_page(site, admin, alice, bob):
    carol = site.member("carol", display_name="Carol Curator")
    _, (a, b, c) = open_board(site, admin, alice, bob, carol)
    thread = start(a)
    post_id = thread["first_post_id"]
    empty = site.anonymous().get(f"/posts/{post_id}/recommendations")
    assert empty.status_code == 200 and "Nobody yet." in empty.text

    assert c.post(f"/api/v1/posts/{post_id}/recommend").status_code == 200
    assert b.post(f"/api/v1/posts/{post_id}/recommend").status_code == 200
    listing = site.anonymous().get(f"/api/v1/posts/{post_id}/recommendations").json()
    assert listing["total"] == 2
    assert [p["username"] for p in listing["items"]] == ["carol", "bob"]
    assert listing["items"][0]["display_name"] == "Carol Curator"

    page = site.anonymous().get(f"/posts/{post_id}/recommendations")
    assert page.status_code == 200
    assert '<a href="/members/carol">Carol Curator</a>' in page.text
    assert '<a href="/members/bob">Bob Bibliographer</a>' in page.text
    assert "Nobody yet." not in page.text

    assert b.delete(f"/api/v1/posts/{post_id}/recommend").status_code == 200
    listing = a.get(f"/api/v1/posts/{post_id}/recommendations").json()
    assert [p["username"] for p in listing["items"]] == ["carol"]
    assert "Bob Bibliographer" not in site.anonymous().get(f"/posts/{post_id}/recommendations").text


def test_html_recommend_button_toggles(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a)
    post_id = thread["first_post_id"]
    page = b.get(f"/threads/{thread['id']}")
    token = csrf_from(page.text)
    answer = b.post(
        f"/posts/{post_id}/recommend",
        data={"csrf_token": token, "on": "1"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/posts/{post_id}"
    assert recommend_count_in_html(b.get(f"/threads/{thread['id']}").text, post_id) == 1
    # The same form sent twice still counts once.
    b.post(f"/posts/{post_id}/recommend", data={"csrf_token": token, "on": "1"})
    assert b.get(f"/api/v1/posts/{post_id}").json()["recommend_count"] == 1
    b.post(f"/posts/{post_id}/recommend", data={"csrf_token": token, "on": "0"})
    assert b.get(f"/api/v1/posts/{post_id}").json()["recommend_count"] == 0
    # Without the CSRF token nothing happens.
    refused = b.post(f"/posts/{post_id}/recommend", data={"on": "1"})
    assert refused.status_code == 403
    assert b.get(f"/api/v1/posts/{post_id}").json()["recommend_count"] == 0


def test_own_post_cannot_be_recommended(site, admin, alice, bob):
    _, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a)
    post_id = thread["first_post_id"]
    answer = a.post(f"/api/v1/posts/{post_id}/recommend")
    assert answer.status_code == 422
    assert error_code(answer) == "invalid"
    assert a.get(f"/api/v1/posts/{post_id}").json()["recommend_count"] == 0
    assert a.get(f"/api/v1/posts/{post_id}/recommendations").json()["items"] == []
    # Nor through the bearer API, nor on a reply of one's own.
    reply = b.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "Mine"}).json()
    bearer = site.bearer(bob)
    assert bearer.post(f"/api/v1/posts/{reply['id']}/recommend").status_code == 422
    # The page offers no button for one's own post.
    page = a.get(f"/threads/{thread['id']}").text
    assert f'action="/posts/{post_id}/recommend"' not in page
    assert f'action="/posts/{reply["id"]}/recommend"' in page


def test_anonymous_gets_401(site, admin, alice):
    _, (a,) = open_board(site, admin, alice)
    thread = start(a)
    post_id = thread["first_post_id"]
    anonymous = site.anonymous()
    for method in ("post", "delete"):
        answer = getattr(anonymous, method)(f"/api/v1/posts/{post_id}/recommend")
        assert answer.status_code == 401, method
        assert error_code(answer) in ("not_signed_in", "unauthorized", "authentication_required")
    assert a.get(f"/api/v1/posts/{post_id}").json()["recommend_count"] == 0


def test_unreadable_posts_are_404(site, admin, alice, bob):
    owner, (a,) = open_board(site, admin, alice, slug="council", visibility="closed")
    secret = start(owner, slug="council", title="Budget", body="secret")
    outsider = site.signed_in(bob)
    for method in ("post", "delete"):
        answer = getattr(outsider, method)(f"/api/v1/posts/{secret['first_post_id']}/recommend")
        assert answer.status_code == 404, method
        assert error_code(answer) == "not_found"
    assert (
        outsider.get(f"/api/v1/posts/{secret['first_post_id']}/recommendations").status_code == 404
    )
    assert outsider.get(f"/posts/{secret['first_post_id']}/recommendations").status_code == 404
    assert outsider.post("/api/v1/posts/999999/recommend").status_code == 404
    # The member may recommend it, and the outsider still learns nothing.
    assert a.post(f"/api/v1/posts/{secret['first_post_id']}/recommend").status_code == 200
    assert owner.get(f"/api/v1/posts/{secret['first_post_id']}").json()["recommend_count"] == 1


def test_held_and_removed_posts_cannot_be_recommended_by_others(site, admin, alice, bob):
    owner, (a, b) = open_board(site, admin, alice, bob, slug="youth", moderation="all")
    held = start(a, slug="youth")
    assert held["status"] == "pending"
    # Another member cannot see a held post at all.
    assert b.post(f"/api/v1/posts/{held['first_post_id']}/recommend").status_code == 404
    # A moderator sees it but it is not published yet.
    answer = owner.post(f"/api/v1/posts/{held['first_post_id']}/recommend")
    assert answer.status_code == 422
    # A removed post is gone for recommending too.
    published = start(owner, slug="youth", title="Open")
    reply = owner.post(f"/api/v1/threads/{published['id']}/posts", json={"body": "soon gone"})
    reply_id = reply.json()["id"]
    assert owner.delete(f"/api/v1/posts/{reply_id}").status_code == 204
    assert b.post(f"/api/v1/posts/{reply_id}/recommend").status_code == 404
