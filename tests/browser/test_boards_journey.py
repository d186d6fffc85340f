"""The boards journey in real Chromium: a thread, a quoted reply, and the notification it sends."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.helpers import (
    PASSWORD,
    by_label,
    check_a11y,
    fill_form,
    path_is,
    playwright_expect,
    register,
)

expect = playwright_expect()

pytestmark = pytest.mark.browser

COMMUNITY = "Map Librarians"
SLUG = "map-librarians"
ALICE = {"username": "alice", "display_name": "Alice Atlas", "email": "alice@example.org"}
BORIS = {"username": "boris", "display_name": "Boris Border", "email": "boris@example.org"}
TITLE = "Georeferencing scanned sheet maps"
BODY = "Which tool do you use?\n\nWe need **accurate control points** for 1:25,000 sheets."
REPLY = "QGIS with the Georeferencer plugin works well for us."
NOTIFICATION_WAIT_S = 10.0


def thread_url(thread_id: str, post_id: str | None = None) -> re.Pattern[str]:
    """`/threads/<id>`, any query string, and (if given) scrolled to `#post-<post_id>`."""
    fragment = rf"#post-{post_id}" if post_id else r"(#.*)?"
    return re.compile(rf"^https?://[^/]+/threads/{thread_id}(\?[^#]*)?{fragment}$")


def set_up_site_with_open_community(page) -> None:
    """The administrator's first visit: the site, then an open community."""
    page.goto("/")
    expect(page, "this test needs a site nobody has set up yet").to_have_url(path_is("/setup"))
    fill_form(
        page,
        {
            "Username": "root",
            "Your name": "Ada Admin",
            "Email": "ada@example.org",
            "Password": PASSWORD,
        },
    )
    page.get_by_role("button", name="Create administrator").click()
    expect(page).to_have_url(path_is("/communities/new"))
    fill_form(
        page,
        {"Name": COMMUNITY, "Address": SLUG, "Description": "Cartographic collections."},
    )
    by_label(page, "Visibility").select_option("open")
    page.get_by_role("button", name="Create community").click()
    expect(page).to_have_url(path_is(f"/c/{SLUG}"))


def register_and_join(page, member: dict[str, str]) -> None:
    register(page, **member)
    expect(page).to_have_url(path_is(f"/members/{member['username']}"))
    page.goto(f"/c/{SLUG}")
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.get_by_role("status").first).to_have_text(f"Welcome to {COMMUNITY}!")


def header_count(page):
    return page.get_by_role("navigation", name="Account").locator("a.bell .count")


def test_member_replies_with_a_quote_and_the_author_is_notified(new_context):
    # About 10 s on an idle 2-core machine; the notification wait is the only sleep.
    admin = new_context().new_page()
    set_up_site_with_open_community(admin)

    # Alice joins and starts a thread from the board.
    alice = new_context().new_page()
    register_and_join(alice, ALICE)
    expect(alice.get_by_role("heading", name="Discussion")).to_be_visible()
    check_a11y(alice)  # the (empty) board page
    alice.get_by_role("link", name="Start a discussion").click()
    expect(alice).to_have_url(path_is(f"/c/{SLUG}/threads/new"))
    expect(alice.get_by_role("heading", level=1)).to_have_text("Start a discussion")
    check_a11y(alice)

    # Sending it without a title is refused, with the error tied to the field.
    by_label(alice, "Message").fill(BODY)
    alice.get_by_role("button", name="Post", exact=True).click()
    summary = alice.get_by_role("alert")
    expect(summary).to_contain_text("Please check the form")
    expect(summary).to_contain_text("Enter a title.")
    title = by_label(alice, "Title")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_accessible_description(re.compile("Enter a title."))
    expect(by_label(alice, "Message")).to_have_value(BODY)
    check_a11y(alice)

    title.fill(TITLE)
    alice.get_by_role("button", name="Post", exact=True).click()
    expect(alice).to_have_url(thread_url(r"\d+"))
    expect(alice.get_by_role("heading", level=1)).to_have_text(TITLE)
    thread_id = re.search(r"/threads/(\d+)", alice.url).group(1)
    first_post = alice.locator("article.post").first
    expect(first_post.locator(".post-body strong")).to_have_text("accurate control points")
    check_a11y(alice)

    # The board lists the thread.
    alice.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=COMMUNITY).click()
    expect(alice.get_by_role("link", name=TITLE)).to_be_visible()
    check_a11y(alice)  # the board page with a thread on it
    expect(header_count(alice)).to_have_count(0)

    # Boris joins, opens the thread and replies to Alice's post with a quote.
    boris = new_context().new_page()
    register_and_join(boris, BORIS)
    boris.get_by_role("link", name=TITLE).click()
    expect(boris).to_have_url(thread_url(thread_id))
    reply_link = boris.locator("article.post").first.get_by_role(
        "link", name=f"Reply to {ALICE['display_name']}"
    )
    expect(reply_link).to_have_attribute("href", re.compile(r"\?reply_to=\d+"))
    reply_link.click()
    expect(boris).to_have_url(re.compile(rf"/threads/{thread_id}\?reply_to=\d+#reply$"))
    box = by_label(boris, "Your reply")
    quoted = box.input_value()
    assert quoted.startswith("> Which tool do you use?\n"), quoted
    assert "> We need **accurate control points**" in quoted, quoted
    box.press("Control+End")  # type below the quote
    box.press_sequentially(REPLY, delay=0)
    boris.get_by_role("button", name="Post reply").click()
    expect(boris).to_have_url(thread_url(thread_id, r"\d+"))
    reply_id = re.search(r"#post-(\d+)$", boris.url).group(1)
    reply = boris.locator(f"#post-{reply_id}")
    expect(reply.locator(".in-reply")).to_contain_text(f"In reply to {ALICE['display_name']}")
    expect(reply.locator(".post-body blockquote")).to_contain_text("Which tool do you use?")
    expect(reply.locator(".post-body")).to_contain_text(REPLY)
    check_a11y(boris)  # the thread page with a reply on it

    # Alice's header shows the notification once the server's notifier has run.
    deadline = time.monotonic() + NOTIFICATION_WAIT_S
    alice.reload()
    while header_count(alice).count() == 0 and time.monotonic() < deadline:
        alice.wait_for_timeout(250)
        alice.reload()
    expect(header_count(alice), "no notification count within 10 s").to_have_text("1")

    alice.get_by_role("navigation", name="Account").get_by_role(
        "link", name=re.compile(r"^Notifications")
    ).click()
    expect(alice).to_have_url(path_is("/notifications"))
    check_a11y(alice)
    item = alice.get_by_role("button", name=re.compile(f"{BORIS['display_name']} replied to you"))
    expect(item).to_contain_text(TITLE)
    item.click()
    expect(alice).to_have_url(thread_url(thread_id, reply_id))
    expect(alice.locator(f"#post-{reply_id} .post-body")).to_contain_text(REPLY)
    expect(header_count(alice)).to_have_count(0)  # opening it marked it read

    alice.goto("/settings/notifications")
    expect(alice.get_by_role("heading", name="Notifications and email")).to_be_visible()
    check_a11y(alice)

    # On a phone-sized screen (375 px) the signed-in header wraps: nothing scrolls sideways
    # and "Sign out" stays in view (WCAG 1.4.10, reflow).
    alice.set_viewport_size({"width": 375, "height": 740})
    for path in ("/", f"/c/{SLUG}", f"/threads/{thread_id}"):
        alice.goto(path)
        widths = alice.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], (path, widths)
        sign_out = alice.get_by_role("button", name="Sign out")
        box = sign_out.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375, (path, box)
