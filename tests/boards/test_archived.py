"""A board in an archived community: read as before, nothing new written, cleaned up still."""

from __future__ import annotations

from sqlalchemy import func, select

from connect.boards.models import Post, Recommendation, Thread
from tests.boards.helpers import open_board, reply, start
from tests.conftest import csrf_from, error_code

ARCHIVED = "This community is archived: it can be read but takes no new posts."


def rows(site, model) -> int:
    async def run():
        async with site.ctx.db.read() as session:
            return (await session.execute(select(func.count()).select_from(model))).scalar()

    return site.call(run)


def archived_board(site, admin, alice, bob):
    """Alice started a thread, Bob replied; then the owner archived the community."""
    owner, (a, b) = open_board(site, admin, alice, bob)
    thread = start(a, title="Bylaws draft", body="Please read the zebracorn clause.")
    answer = reply(b, thread, body="Looks fine.")
    site.drain()
    before = {
        "thread": site.anonymous().get(f"/api/v1/threads/{thread['id']}").json(),
        "board": site.anonymous().get("/api/v1/communities/cataloging/threads").json(),
        "search": site.anonymous().get("/api/v1/search", params={"q": "zebracorn"}).json(),
    }
    assert before["search"]["total"] == 1
    assert owner.post("/api/v1/communities/cataloging/archive").status_code == 200
    return owner, a, b, thread, answer, before


def assert_archived_refusal(answer, status=409):
    assert answer.status_code == status, answer.text
    assert error_code(answer) == "archived"
    assert answer.json()["error"]["message"] == ARCHIVED


def test_every_board_write_is_refused_and_nothing_is_written(site, admin, alice, bob):
    owner, a, b, thread, answer, before = archived_board(site, admin, alice, bob)
    counts = (rows(site, Thread), rows(site, Post), rows(site, Recommendation))
    tid, pid, first = thread["id"], answer["id"], thread["first_post_id"]
    for client in (a, owner):  # members and the owner alike
        assert_archived_refusal(
            client.post(
                "/api/v1/communities/cataloging/threads", json={"title": "New", "body": "Text"}
            )
        )
        assert_archived_refusal(client.post(f"/api/v1/threads/{tid}/posts", json={"body": "Hi"}))
        assert_archived_refusal(client.patch(f"/api/v1/posts/{first}", json={"body": "Changed"}))
        assert_archived_refusal(client.patch(f"/api/v1/threads/{tid}", json={"title": "Renamed"}))
        assert_archived_refusal(client.post(f"/api/v1/posts/{pid}/recommend"))
    # Authors no longer remove their own posts: the record stays.
    assert_archived_refusal(b.delete(f"/api/v1/posts/{pid}"))
    assert (rows(site, Thread), rows(site, Post), rows(site, Recommendation)) == counts
    site.drain()
    # Reads and search answer exactly as before.
    anyone = site.anonymous()
    assert anyone.get(f"/api/v1/threads/{tid}").json() == before["thread"]
    assert anyone.get("/api/v1/communities/cataloging/threads").json() == before["board"]
    assert anyone.get("/api/v1/search", params={"q": "zebracorn"}).json() == before["search"]


def test_moderators_still_remove_and_members_still_flag(site, admin, alice, bob):
    owner, a, b, thread, answer, _ = archived_board(site, admin, alice, bob)
    flagged = a.post(f"/api/v1/posts/{answer['id']}/flags", json={"reason": "spam"})
    assert flagged.status_code == 201, flagged.text
    assert owner.delete(f"/api/v1/posts/{answer['id']}").status_code == 204
    posts = site.anonymous().get(f"/api/v1/threads/{thread['id']}").json()["posts"]
    assert [p["status"] for p in posts] == ["published", "deleted"]


def test_pages_show_the_reason_instead_of_forms(site, admin, alice, bob):
    owner, a, b, thread, answer, _ = archived_board(site, admin, alice, bob)
    member = site.signed_in(alice)
    board = member.get("/c/cataloging")
    assert board.status_code == 200
    assert ARCHIVED in board.text
    assert "Start a discussion" not in board.text
    page = member.get(f"/threads/{thread['id']}")
    assert page.status_code == 200
    assert ARCHIVED in page.text
    assert f'action="/threads/{thread["id"]}/reply"' not in page.text
    assert f"/posts/{thread['first_post_id']}/edit" not in page.text  # her own post
    assert '/recommend"' not in page.text
    assert f'action="/posts/{answer["id"]}/delete"' not in page.text
    # A moderator's page keeps the Remove button, not Edit.
    moderator_page = site.signed_in(admin).get(f"/threads/{thread['id']}").text
    assert f'action="/posts/{answer["id"]}/delete"' in moderator_page
    assert f"/posts/{answer['id']}/edit" not in moderator_page
    new = member.get("/c/cataloging/threads/new")
    assert new.status_code == 409 and ARCHIVED in new.text
    assert 'name="title"' not in new.text
    edit = member.get(f"/posts/{thread['first_post_id']}/edit")
    assert edit.status_code == 409 and ARCHIVED in edit.text and 'name="body"' not in edit.text


def test_forms_left_open_keep_their_text_and_write_nothing(site, admin, alice, bob):
    owner, a, b, thread, answer, _ = archived_board(site, admin, alice, bob)
    member = site.signed_in(alice)
    token = csrf_from(member.get("/c/cataloging").text)
    posts = rows(site, Post)
    replied = member.post(
        f"/threads/{thread['id']}/reply",
        data={"csrf_token": token, "body": "My careful answer about quorum"},
    )
    assert replied.status_code == 409
    assert ARCHIVED in replied.text
    assert "My careful answer about quorum" in replied.text
    assert f'action="/threads/{thread["id"]}/reply"' not in replied.text
    started = member.post(
        "/c/cataloging/threads/new",
        data={"csrf_token": token, "title": "Last minute", "body": "A new motion"},
    )
    assert started.status_code == 409
    assert "Last minute" in started.text and "A new motion" in started.text
    edited = member.post(
        f"/posts/{thread['first_post_id']}/edit",
        data={"csrf_token": token, "body": "Rewritten history"},
    )
    assert edited.status_code == 409 and "Rewritten history" in edited.text
    assert rows(site, Post) == posts
    body = site.anonymous().get(f"/api/v1/posts/{thread['first_post_id']}").json()["body"]
    assert body == "Please read the zebracorn clause."


def test_unarchiving_restores_posting(site, admin, alice, bob):
    owner, a, b, thread, answer, _ = archived_board(site, admin, alice, bob)
    assert owner.delete("/api/v1/communities/cataloging/archive").status_code == 200
    reply(a, thread, body="Back in business")
    start(b, title="A new motion")
    edited = a.patch(f"/api/v1/posts/{thread['first_post_id']}", json={"body": "Edited"})
    assert edited.status_code == 200
    assert b.post(f"/api/v1/posts/{thread['first_post_id']}/recommend").status_code == 200
    page = site.signed_in(alice).get(f"/threads/{thread['id']}").text
    assert f'action="/threads/{thread["id"]}/reply"' in page and ARCHIVED not in page
