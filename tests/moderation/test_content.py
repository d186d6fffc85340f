"""Moderators' actions on content: hide and restore, edit, lock and pin, move, merge, split."""

from tests.conftest import csrf_from, error_code
from tests.moderation.helpers import board, hand_over, log_rows, notifications, reply, start


def test_hide_and_restore_a_post(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Open")
    post = reply(a, thread["id"], "Questionable")
    hidden = owner.post(f"/api/v1/posts/{post['id']}/hide", json={"reason": "Off topic"})
    assert hidden.status_code == 200 and hidden.json()["status"] == "hidden"
    shown = b.get(f"/api/v1/threads/{thread['id']}").json()
    assert post["id"] not in [p["id"] for p in shown["posts"]]
    assert shown["thread"]["post_count"] == 1
    assert (
        error_code(b.post(f"/api/v1/posts/{thread['first_post_id']}/hide", json={})) == "forbidden"
    )
    restored = owner.post(f"/api/v1/posts/{post['id']}/restore", json={"reason": "On second look"})
    assert restored.status_code == 200 and restored.json()["status"] == "published"
    assert b.get(f"/api/v1/threads/{thread['id']}").json()["thread"]["post_count"] == 2
    assert error_code(owner.post(f"/api/v1/posts/{post['id']}/restore", json={})) == "conflict"
    site.drain()
    assert [n.title for n in notifications(site, alice)] == [
        "Your post “Open” was hidden by a moderator",
        "Your post “Open” was restored",
    ]
    assert "Reason: Off topic" in notifications(site, alice)[0].excerpt


def test_hide_from_the_thread_tools_page(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    thread = start(a, title="Open")
    post = reply(a, thread["id"], "Questionable")
    assert f"/threads/{thread['id']}/moderate" in owner.get(f"/threads/{thread['id']}").text
    tools = owner.get(f"/threads/{thread['id']}/moderate")
    assert tools.status_code == 200
    assert a.get(f"/threads/{thread['id']}/moderate").status_code == 403
    answer = owner.post(
        f"/posts/{post['id']}/hide", data={"csrf_token": csrf_from(tools.text), "reason": "No"}
    )
    assert answer.status_code == 200 and "The post is hidden." in answer.text
    assert a.get(f"/api/v1/posts/{post['id']}").status_code == 404


def test_moderators_edit_keeps_history_and_logs_before_and_after(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    thread = start(a, title="Open", body="Original words")
    assert (
        owner.patch(
            f"/api/v1/posts/{thread['first_post_id']}", json={"body": "Tidied words"}
        ).status_code
        == 200
    )
    history = a.get(f"/api/v1/posts/{thread['first_post_id']}/history").json()["items"]
    assert history[0]["editor"]["username"] == "root"
    row = log_rows(site)[-1]
    assert row.action == "post.edit" and row.actor_name == "root" and row.target_name == "alice"
    assert row.before == {"body": "Original words"} and row.after == {"body": "Tidied words"}
    # The author's own edit is not a moderator action.
    assert (
        a.patch(f"/api/v1/posts/{thread['first_post_id']}", json={"body": "Mine again"}).status_code
        == 200
    )
    assert (
        log_rows(site)[-1].action == "post.edit"
        and len([r for r in log_rows(site) if r.action == "post.edit"]) == 1
    )


def test_lock_and_pin_are_logged(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    thread = start(a, title="Open")
    for change, action in (
        ({"pinned": True}, "thread.pin"),
        ({"locked": True}, "thread.lock"),
        ({"locked": False}, "thread.unlock"),
        ({"pinned": False}, "thread.unpin"),
    ):
        assert owner.patch(f"/api/v1/threads/{thread['id']}", json=change).status_code == 200
        assert log_rows(site)[-1].action == action


def test_move_a_thread_to_a_community_the_moderator_moderates(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    site.community(owner, "archive")
    site.community(owner, "elsewhere")
    mod = hand_over(site, owner, "youth", site.member("mod"), role="moderator")
    hand_over(site, owner, "archive", site.member("mod2"), role="moderator")
    assert (
        owner.put("/api/v1/communities/archive/members/mod", json={"role": "moderator"}).status_code
        == 200
    )
    thread = start(a, title="Belongs in the archive")
    reply(b, thread["id"], "Agreed")
    refused = mod.post(f"/api/v1/threads/{thread['id']}/move", json={"community": "elsewhere"})
    assert error_code(refused) == "forbidden"
    moved = mod.post(
        f"/api/v1/threads/{thread['id']}/move", json={"community": "archive", "reason": "Old"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["community"] == "archive"
    listing = site.anonymous().get("/api/v1/communities/archive/threads").json()["items"]
    assert [t["id"] for t in listing] == [thread["id"]]
    assert site.anonymous().get("/api/v1/communities/youth/threads").json()["items"] == []
    shown = site.anonymous().get(f"/api/v1/threads/{thread['id']}").json()
    assert shown["thread"]["community"] == "archive" and len(shown["posts"]) == 2
    row = log_rows(site)[-1]
    assert row.action == "thread.move" and row.before == {"community": "youth"}


def test_a_thread_moved_where_its_author_cannot_read_tells_them_without_a_dead_link(
    site, admin, alice
):
    owner, (a,) = board(site, admin, alice)
    site.community(owner, "council", visibility="private")
    thread = start(a, title="Budget questions")
    moved = owner.post(
        f"/api/v1/threads/{thread['id']}/move", json={"community": "council", "reason": "Staff"}
    )
    assert moved.status_code == 200, moved.text
    site.drain()
    (notice,) = [n for n in notifications(site, alice) if "was moved" in n.title]
    assert notice.url == "/notifications" and "a community you cannot read" in notice.excerpt
    assert "council" not in f"{notice.title} {notice.excerpt}".lower()


def test_merge_two_threads(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    first = start(a, title="Meeting time")
    reply(b, first["id"], "Tuesday?")
    second = start(b, title="When do we meet")
    reply(a, second["id"], "Wednesday")
    merged = owner.post(f"/api/v1/threads/{second['id']}/merge", json={"into": first["id"]})
    assert merged.status_code == 200, merged.text
    shown = site.anonymous().get(f"/api/v1/threads/{first['id']}").json()
    assert [p["body"] for p in shown["posts"]] == [
        "Who is in?",
        "Tuesday?",
        "Who is in?",
        "Wednesday",
    ]
    assert shown["thread"]["post_count"] == 4
    assert site.anonymous().get(f"/api/v1/threads/{second['id']}").status_code == 404
    # Old links to the merged thread's page lead on to the thread it joined.
    old_link = site.anonymous().get(f"/threads/{second['id']}", follow_redirects=False)
    assert old_link.status_code == 301
    assert old_link.headers["location"] == f"/threads/{first['id']}"
    assert site.anonymous().get(f"/threads/{second['id']}").text.count("Wednesday") >= 1
    assert site.anonymous().get("/threads/999999").status_code == 404
    # The merged thread's author hears where it went.
    site.drain()
    (notice,) = [n for n in notifications(site, bob) if "merged" in n.title]
    assert notice.title == "Your thread “When do we meet” was merged into another thread"
    assert notice.url == f"/threads/{first['id']}"
    assert (
        error_code(owner.post(f"/api/v1/threads/{first['id']}/merge", json={"into": first["id"]}))
        == "invalid"
    )
    assert log_rows(site)[-1].action == "thread.merge"


def test_a_refused_merge_says_why_and_keeps_its_reason_in_its_own_form(site, admin, alice):
    _, (a,) = board(site, admin, alice)
    thread = start(a, title="Duplicate")
    owner = site.signed_in(admin)
    tools = owner.get(f"/threads/{thread['id']}/moderate")
    token = csrf_from(tools.text)
    for into in ("999", "/threads/999"):
        refused = owner.post(
            f"/threads/{thread['id']}/merge",
            data={"csrf_token": token, "into": into, "reason": "Same question twice"},
        )
        assert refused.status_code == 422
        assert "There is no such thread in this community" in refused.text
        assert "Unknown." not in refused.text
        html = refused.text
        merge_at = html.index(f'action="/threads/{thread["id"]}/merge"')
        merge_form = html[merge_at : html.index("</form>", merge_at)]
        split_at = html.index('id="split-form"')
        split_form = html[split_at : html.index("</form>", split_at)]
        assert 'value="Same question twice"' in merge_form
        assert "Same question twice" not in split_form


def test_merge_form_takes_the_sites_thread_addresses_and_refuses_huge_numbers(site, admin, alice):
    _, (a,) = board(site, admin, alice)
    owner = site.signed_in(admin)

    def merge(thread, into):
        token = csrf_from(owner.get(f"/threads/{thread['id']}/moderate").text)
        return owner.post(
            f"/threads/{thread['id']}/merge",
            data={"csrf_token": token, "into": into, "reason": "Same question"},
        )

    target = start(a, title="Where to meet")
    for typed in ("99999999999999999999999", "/threads/99999999999999999999999"):
        refused = merge(start(a, title="Huge"), typed)
        assert refused.status_code == 422
        assert "There is no such thread in this community" in refused.text
        assert f'value="{typed}"' in refused.text
    for typed in ("http://elsewhere.example/threads/1", "threads/one", "#1"):
        refused = merge(start(a, title="Odd"), typed)
        assert refused.status_code == 422 and "its address on this site" in refused.text
    for typed in (
        f"http://127.0.0.1:8000/threads/{target['id']}#post-{target['first_post_id']}",
        f"/threads/{target['id']}/",
        f" {target['id']} ",
    ):
        merged = merge(start(a, title="Meeting place"), typed)
        assert merged.status_code == 200, merged.text
        assert "The threads are merged." in merged.text
    shown = site.anonymous().get(f"/api/v1/threads/{target['id']}").json()
    assert shown["thread"]["post_count"] == 4


def test_split_replies_into_a_new_thread(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    thread = start(a, title="Mixed topics")
    keep = reply(b, thread["id"], "On topic")
    off = [reply(b, thread["id"], "Off topic one"), reply(a, thread["id"], "Off topic two")]
    refused = owner.post(
        f"/api/v1/threads/{thread['id']}/split",
        json={"post_ids": [thread["first_post_id"]], "title": "No"},
    )
    assert error_code(refused) == "invalid"
    answer = owner.post(
        f"/api/v1/threads/{thread['id']}/split",
        json={"post_ids": [p["id"] for p in off], "title": "A new topic"},
    )
    assert answer.status_code == 201, answer.text
    new = answer.json()
    assert new["title"] == "A new topic" and new["author"]["username"] == "bob"
    assert new["first_post_id"] == off[0]["id"] and new["post_count"] == 2
    old = site.anonymous().get(f"/api/v1/threads/{thread['id']}").json()
    assert [p["id"] for p in old["posts"]] == [thread["first_post_id"], keep["id"]]
    assert old["thread"]["post_count"] == 2
    assert log_rows(site)[-1].action == "thread.split"
    # The thread tools page does the same from ticked boxes.
    token = csrf_from(owner.get(f"/threads/{new['id']}/moderate").text)
    page = owner.post(
        f"/threads/{new['id']}/split",
        data={"csrf_token": token, "title": "Split again", "post_id": [str(off[1]["id"])]},
    )
    assert page.status_code == 200 and "Split again" in page.text


def test_split_replies_whose_earliest_is_hidden_stay_readable(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    reader = site.signed_in(site.member("carol"))
    assert reader.post("/api/v1/communities/youth/join").status_code == 200
    thread = start(a, title="Mixed topics")
    rude = reply(b, thread["id"], "Rude aside")
    kept = [reply(a, thread["id"], "Off topic one"), reply(b, thread["id"], "Off topic two")]
    assert owner.post(f"/api/v1/posts/{rude['id']}/hide", json={}).status_code == 200
    answer = owner.post(
        f"/api/v1/threads/{thread['id']}/split",
        json={"post_ids": [rude["id"]] + [p["id"] for p in kept], "title": "A new topic"},
    )
    assert answer.status_code == 201, answer.text
    new = answer.json()
    assert new["status"] == "published" and new["first_post_id"] == kept[0]["id"]
    assert new["author"]["username"] == "alice" and new["post_count"] == 2
    shown = reader.get(f"/api/v1/threads/{new['id']}")
    assert shown.status_code == 200, shown.text
    assert [p["body"] for p in shown.json()["posts"]] == ["Off topic one", "Off topic two"]
    page = reader.get(f"/threads/{new['id']}")
    assert page.status_code == 200 and "Off topic two" in page.text
    assert "Rude aside" not in page.text
    assert reader.get(f"/api/v1/posts/{rude['id']}").status_code == 404
    listing = reader.get("/api/v1/communities/youth/threads").json()["items"]
    assert new["id"] in [t["id"] for t in listing]
