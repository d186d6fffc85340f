"""Moderating an archived community: its content can be cleaned up, nothing new moves in."""

from __future__ import annotations

from tests.boards.helpers import open_board, start
from tests.conftest import error_code


def test_threads_move_out_of_an_archived_community_but_not_into_one(site, admin, alice):
    owner, (a,) = open_board(site, admin, alice)
    site.community(owner, "old-committee")
    stray = start(a, title="Belongs in the old committee")
    assert owner.post("/api/v1/communities/old-committee/archive").status_code == 200
    moved = owner.post(f"/api/v1/threads/{stray['id']}/move", json={"community": "old-committee"})
    assert moved.status_code == 409 and error_code(moved) == "archived"
    assert owner.get(f"/api/v1/threads/{stray['id']}").json()["thread"]["community"] == "cataloging"

    # The other way: a thread in the archived community goes elsewhere.
    assert owner.delete("/api/v1/communities/old-committee/archive").status_code == 200
    kept = start(owner, slug="old-committee", title="Misfiled")
    spam = start(owner, slug="old-committee", title="Cheap watches")
    assert owner.post("/api/v1/communities/old-committee/archive").status_code == 200
    moved = owner.post(f"/api/v1/threads/{kept['id']}/move", json={"community": "cataloging"})
    assert moved.status_code == 200, moved.text
    # Moderators still hide posts there.
    hidden = owner.post(f"/api/v1/posts/{spam['first_post_id']}/hide", json={"reason": "Spam"})
    assert hidden.status_code == 200, hidden.text
    assert site.anonymous().get(f"/api/v1/threads/{spam['id']}").status_code == 404
