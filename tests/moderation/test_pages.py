"""The moderation pages: header link, queue filters, settings, site sanctions, standing."""

from tests.conftest import csrf_from
from tests.moderation.helpers import board, hand_over, start


def test_the_header_links_moderators_to_the_queue(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    assert 'href="/moderation"' in owner.get("/").text
    assert 'href="/moderation"' not in a.get("/").text
    mod = hand_over(site, owner, "youth", site.member("mod"), role="moderator")
    assert 'href="/moderation"' in mod.get("/").text
    assert a.get("/moderation").status_code == 403
    login = site.anonymous().get("/moderation", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"].startswith("/login")


def test_queue_filters_and_item_details(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob, moderation="all")
    held = start(a, title="Held thread", body="Some **bold** words")
    page = owner.get("/moderation?kind=thread&community=youth")
    assert page.status_code == 200
    assert "Held thread" in page.text and "<strong>bold</strong>" in page.text
    assert "Alice Archivist" in page.text and "0 published posts" in page.text
    assert 'value="thread" selected' in page.text
    assert "Held thread" not in owner.get("/moderation?kind=join").text
    token = csrf_from(page.text)
    answer = owner.post(
        f"/moderation/items/thread/{held['id']}/reject",
        data={"csrf_token": token, "reason": "", "back": "/moderation"},
    )
    assert answer.status_code == 200 and "Give a reason" in answer.text
    answer = owner.post(
        f"/moderation/items/thread/{held['id']}/approve",
        data={
            "csrf_token": token,
            "edit": "1",
            "title": "Edited title",
            "body": "Edited body",
            "back": "/moderation?kind=thread",
        },
    )
    assert answer.status_code == 200 and "Approved." in answer.text
    assert b.get(f"/api/v1/threads/{held['id']}").json()["thread"]["title"] == "Edited title"


def test_community_settings_hold_flag_threshold_and_limits(site, admin, alice):
    owner, _ = board(site, admin, alice)
    page = owner.get("/c/youth/settings")
    assert (
        "Flags that hide an item for review" in page.text
        and 'name="limit_posts_per_day"' in page.text
    )
    token = csrf_from(page.text)
    form = {"csrf_token": token, "name": "Youth", "visibility": "open", "moderation": "none"}
    bad = owner.post("/c/youth/settings", data={**form, "flag_threshold": "0"})
    assert bad.status_code == 422 and "from 1 to 50" in bad.text
    done = owner.post(
        "/c/youth/settings", data={**form, "flag_threshold": "2", "limit_posts_per_minute": "3"}
    )
    assert done.status_code == 200
    settings = owner.get("/api/v1/communities/youth").json()["settings"]
    assert settings == {"flag_threshold": 2, "limits": {"posts_per_minute": 3}}
    log = owner.get("/api/v1/moderation/log", params={"action": "community.update"}).json()
    assert log["items"][0]["after"]["settings"] == {
        "flag_threshold": 2,
        "limits": {"posts_per_minute": 3},
    }
    # Emptying a box goes back to the default.
    owner.post("/c/youth/settings", data={**form, "flag_threshold": ""})
    assert owner.get("/api/v1/communities/youth").json()["settings"]["flag_threshold"] == 3


def test_site_sanctions_page_and_standing(site, admin, alice):
    owner, (a,) = board(site, admin, alice)
    mod = site.signed_in(site.member("sitemod", role="moderator"))
    page = mod.get("/moderation/sanctions")
    assert page.status_code == 200
    assert owner.get("/moderation/sanctions").status_code == 200
    assert a.get("/moderation/sanctions").status_code == 403
    token = csrf_from(page.text)
    answer = mod.post(
        "/moderation/sanctions",
        data={"csrf_token": token, "username": "alice", "kind": "flag_bar", "reason": "Bad flags"},
    )
    assert answer.status_code == 200 and "The sanction is in force." in answer.text
    standing = a.get("/standing")
    assert "You are barred from flagging permanently. Reason: Bad flags" in standing.text
    assert a.get("/api/v1/me/sanctions").json()["items"][0]["kind"] == "flag_bar"
