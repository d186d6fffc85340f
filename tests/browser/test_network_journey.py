"""The network journey in real Chromium: two members connect, one replies privately to the
other's post, and the conversation goes back and forth live, without a reload.

Boris accepts messages from his contacts only, so "Reply privately" appears on his post
for Alice once they are connected (through the contact API). Each page visited is checked
with axe.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest

from tests.browser.helpers import (
    PASSWORD,
    by_label,
    fill_form,
    path_is,
    playwright_expect,
)

expect = playwright_expect()

pytestmark = pytest.mark.browser

COMMUNITY = "Oral Historians"
SLUG = "oral-history"
ALICE = {"username": "alice", "display_name": "Alice Archer", "email": "alice@example.org"}
BORIS = {"username": "boris", "display_name": "Boris Reel", "email": "boris@example.org"}
TITLE = "Consent forms for recorded interviews"
BODY = "Does anyone share a **consent form** template for oral history interviews?"
MESSAGE = "I have a template our lawyers approved; happy to send it to you."
ANSWER = "Yes please, that would save me a week. Thank you!"
LIVE_WAIT_MS = 5_000


def call(base: str, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
    request = urllib.request.Request(
        f"{base}/api/v1{path}",
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"content-type": "application/json"}
        | ({"authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


def token_for(base: str, username: str) -> str:
    return call(base, "POST", "/auth/token", {"login": username, "password": PASSWORD})["token"]


def set_up_site(admin_page, base: str) -> dict[str, str]:
    """The administrator sets up the site (UI); the community and members come by the API."""
    admin_page.goto("/")
    expect(admin_page, "this test needs a site nobody has set up yet").to_have_url(
        path_is("/setup")
    )
    fill_form(
        admin_page,
        {
            "Username": "root",
            "Your name": "Ada Admin",
            "Email": "ada@example.org",
            "Password": PASSWORD,
        },
    )
    admin_page.get_by_role("button", name="Create administrator").click()
    expect(admin_page).to_have_url(path_is("/communities/new"))
    call(
        base,
        "POST",
        "/communities",
        {"slug": SLUG, "name": COMMUNITY, "description": "Voices.", "visibility": "open"},
        token_for(base, "root"),
    )
    tokens = {}
    for member in (ALICE, BORIS):
        call(base, "POST", "/auth/register", {**member, "password": PASSWORD})
        token = tokens[member["username"]] = token_for(base, member["username"])
        assert call(base, "POST", f"/communities/{SLUG}/join", token=token)["status"] == "member"
    return tokens


def sign_in(context, member: dict[str, str]) -> None:
    answer = context.request.post(
        "/api/v1/auth/session", data={"login": member["username"], "password": PASSWORD}
    )
    assert answer.ok, answer.text()


def messages_count(page):
    return page.locator("[data-live-messages] .count")


def announcer(page):
    return page.locator("#live-announcer")


def navigations(page) -> int:
    return page.evaluate("performance.getEntriesByType('navigation').length")


def test_connect_reply_privately_and_talk_live(new_context, live_server, check_a11y):
    started = time.monotonic()
    tokens = set_up_site(new_context().new_page(), live_server)
    # Boris hears only from his contacts; he asks the community a question.
    call(live_server, "PATCH", "/members/boris", {"message_policy": "contacts"}, tokens["boris"])
    thread = call(
        live_server,
        "POST",
        f"/communities/{SLUG}/threads",
        {"title": TITLE, "body": BODY},
        tokens["boris"],
    )
    post_id = thread["first_post_id"]

    alice_context, boris_context = new_context(), new_context()
    sign_in(alice_context, ALICE)
    sign_in(boris_context, BORIS)
    alice, boris = alice_context.new_page(), boris_context.new_page()
    reply_privately = alice.locator(f"#post-{post_id}").get_by_role(
        "link", name=f"Reply privately to {BORIS['display_name']}"
    )

    # Not contacts yet: no way to write to Boris from his post.
    alice.goto(f"/threads/{thread['id']}")
    expect(alice.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(reply_privately).to_have_count(0)
    check_a11y(alice)

    # They connect: Alice asks, Boris accepts (the contact API).
    asked = call(live_server, "POST", "/members/boris/contact", {}, tokens["alice"])
    assert asked["status"] == "pending", asked
    accepted = call(
        live_server, "PUT", "/me/contacts/alice", {"status": "accepted"}, tokens["boris"]
    )
    assert accepted.get("status") == "accepted", accepted

    # Boris waits with his inbox open.
    boris.goto("/messages")
    expect(boris.get_by_role("heading", level=1)).to_have_text("Messages")
    expect(boris.get_by_text("No messages yet")).to_be_visible()
    expect(messages_count(boris)).to_have_count(0)
    check_a11y(boris)

    # Alice now replies privately to his post: the form is addressed and quotes it.
    alice.reload()
    reply_privately.click()
    expect(alice).to_have_url(re.compile(rf"/messages/new\?to=boris&reply_to_post={post_id}$"))
    expect(by_label(alice, "To")).to_have_value("boris")
    quote = alice.locator("blockquote.quoted-post")
    expect(quote).to_contain_text("Does anyone share a consent form template")
    expect(quote.get_by_role("link")).to_have_attribute("href", f"/posts/{post_id}")
    check_a11y(alice)
    by_label(alice, "Message").fill(MESSAGE)
    alice.get_by_role("button", name="Send").click()
    expect(alice).to_have_url(re.compile(r"/messages/\d+$"))
    conversation_id = alice.url.rsplit("/", 1)[1]
    expect(alice.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(alice.locator("li.message")).to_have_count(1)
    expect(alice.locator("li.message blockquote.quoted-post")).to_be_visible()
    check_a11y(alice)

    # On Boris's inbox, without a reload: the conversation, the count, the announcement.
    row = boris.get_by_role("link", name=TITLE)
    expect(row, "the new conversation did not appear live").to_be_visible(timeout=LIVE_WAIT_MS)
    expect(boris.get_by_text("1 unread", exact=True)).to_be_visible()  # not the bell
    expect(messages_count(boris)).to_have_text("1")
    expect(announcer(boris)).to_have_text(f"New message from {ALICE['display_name']}")
    assert navigations(boris) == 1
    check_a11y(boris)

    # Boris opens it and answers; Alice, on the conversation page, sees it arrive live.
    row.click()
    expect(boris).to_have_url(path_is(f"/messages/{conversation_id}"))
    expect(boris.locator("li.message .post-body")).to_contain_text(MESSAGE)
    expect(messages_count(boris)).to_have_count(0)  # read now
    check_a11y(boris)
    by_label(boris, "Your message").fill(ANSWER)
    boris.get_by_role("button", name="Send").click()
    expect(boris).to_have_url(re.compile(rf"/messages/{conversation_id}#message-\d+$"))

    answer = alice.locator("li.message").nth(1)
    expect(answer, "the answer did not appear live").to_be_visible(timeout=LIVE_WAIT_MS)
    expect(answer.locator(".post-body")).to_contain_text(ANSWER)
    expect(answer.locator(".post-by")).to_have_text(BORIS["display_name"])
    expect(announcer(alice)).to_have_text(f"New message from {BORIS['display_name']}")
    expect(messages_count(alice)).to_have_count(0)  # shown on the open page: no count
    assert navigations(alice) == 1
    check_a11y(alice)
    # The live page counted it read: a fresh look at the inbox shows nothing waiting.
    alice.goto("/messages")
    expect(alice.get_by_role("link", name=TITLE)).to_be_visible()
    expect(alice.locator("[data-live-inbox]").get_by_text("unread")).to_have_count(0)
    expect(messages_count(alice)).to_have_count(0)
    check_a11y(alice)

    assert time.monotonic() - started < 90, "the journey should stay well under ~90 s"
