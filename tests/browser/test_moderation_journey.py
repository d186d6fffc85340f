"""The moderation journey in real Chromium: a new member's first thread is held, the moderator
sees it arrive in the queue without reloading, approves it, and the member is notified.

`connect serve` migrates the database first: this needs the migration for the moderation
tables (moderation_flags, moderation_sanctions, moderation_log, moderation_settings and
communities.settings).
"""

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

COMMUNITY = "Young Readers"
SLUG = "young-readers"
NOAH = {"username": "noah", "display_name": "Noah Newcomer", "email": "noah@example.org"}
TITLE = "Graphic novels for reluctant readers"
BODY = "Which **series** got your teens reading again?"
LIVE_WAIT_MS = 10_000
NOTIFICATION_WAIT_S = 10.0


def set_up_site_with_moderated_community(page) -> None:
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
    fill_form(page, {"Name": COMMUNITY, "Address": SLUG, "Description": "Books for teens."})
    by_label(page, "Visibility").select_option("open")
    by_label(page, "Posting moderation").select_option("new_members")
    page.get_by_role("button", name="Create community").click()
    expect(page).to_have_url(path_is(f"/c/{SLUG}"))


def header_count(page):
    return page.get_by_role("navigation", name="Account").locator("a.bell .count")


def test_held_post_reaches_the_live_queue_is_approved_and_the_member_is_told(new_context):
    moderator = new_context().new_page()
    set_up_site_with_moderated_community(moderator)

    # The moderator opens the queue: empty, and listening.
    moderator.get_by_role("navigation", name="Main").get_by_role("link", name="Moderation").click()
    expect(moderator).to_have_url(path_is("/moderation"))
    expect(moderator.get_by_role("heading", level=1)).to_have_text("Moderation queue")
    expect(moderator.get_by_text("Nothing is waiting for a decision.")).to_be_visible()
    check_a11y(moderator)

    # A new member joins and starts a thread: it is held, and they are told so.
    noah = new_context().new_page()
    register(noah, **NOAH)
    expect(noah).to_have_url(path_is(f"/members/{NOAH['username']}"))
    noah.goto(f"/c/{SLUG}")
    noah.get_by_role("button", name="Join", exact=True).click()
    noah.get_by_role("link", name="Start a discussion").click()
    fill_form(noah, {"Title": TITLE, "Message": BODY})
    noah.get_by_role("button", name="Post", exact=True).click()
    expect(noah.get_by_role("status").first).to_contain_text("waiting for a moderator")
    thread_url = noah.url.split("#")[0]
    expect(noah.get_by_text("awaiting approval").first).to_be_visible()

    # Nobody else sees it yet.
    visitor = new_context().new_page()
    visitor.goto(f"/c/{SLUG}")
    expect(visitor.get_by_role("link", name=TITLE)).to_have_count(0)

    # The moderator's queue shows it without a reload, and says so to screen readers.
    item = moderator.locator(".queue-item").filter(has_text=TITLE)
    expect(item, "the held thread did not appear live").to_be_visible(timeout=LIVE_WAIT_MS)
    expect(item.locator(".post-body strong")).to_have_text("series")
    expect(item).to_contain_text(NOAH["display_name"])
    expect(item).to_contain_text("0 published posts")
    expect(moderator.locator("#live-announcer")).to_contain_text("Moderation queue updated")
    expect(moderator.locator("[data-queue-total]")).to_have_text("1")
    check_a11y(moderator)

    item.get_by_role("button", name=re.compile(rf"^Approve {re.escape(TITLE)}")).click()
    expect(moderator.get_by_role("status").first).to_have_text("Approved.")
    expect(moderator.get_by_text("Nothing is waiting for a decision.")).to_be_visible()

    # Published for everyone now.
    visitor.reload()
    expect(visitor.get_by_role("link", name=TITLE)).to_be_visible()

    # The member's header shows the notification once the server's notifier has run.
    deadline = time.monotonic() + NOTIFICATION_WAIT_S
    noah.reload()
    while header_count(noah).count() == 0 and time.monotonic() < deadline:
        noah.wait_for_timeout(250)
        noah.reload()
    expect(header_count(noah), "no notification within 10 s").to_have_text("1")
    noah.get_by_role("navigation", name="Account").get_by_role(
        "link", name=re.compile(r"^Notifications")
    ).click()
    notice = noah.get_by_role("button", name=re.compile(f"Your thread “{TITLE}” was approved"))
    expect(notice).to_be_visible()
    check_a11y(noah)
    notice.click()
    expect(noah).to_have_url(re.compile(re.escape(thread_url.split("?")[0]) + r".*"))
    expect(noah.get_by_text("awaiting approval")).to_have_count(0)
