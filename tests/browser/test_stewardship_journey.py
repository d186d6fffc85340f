"""Looking after a site in real Chromium, every page checked with axe: a member follows
"new replies" to where she left off, the administrator retitles a thread, looks at the
outgoing mail and archives the community, and the member deletes her account."""

from __future__ import annotations

import re

import pytest

from tests.browser.helpers import (
    PASSWORD,
    by_label,
    check_a11y,
    path_is,
    playwright_expect,
)
from tests.browser.test_boards_journey import register_and_join, set_up_site_with_open_community

expect = playwright_expect()

pytestmark = pytest.mark.browser

SLUG = "map-librarians"
ALICE = {"username": "alice", "display_name": "Alice Atlas", "email": "alice@example.org"}


def start_thread(page, title: str, body: str) -> str:
    page.goto(f"/c/{SLUG}/threads/new")
    by_label(page, "Title").fill(title)
    by_label(page, "Message").fill(body)
    page.get_by_role("button", name="Post", exact=True).click()
    expect(page).to_have_url(re.compile(r"/threads/\d+"))
    return re.search(r"/threads/(\d+)", page.url).group(1)


def reply(page, thread_id: str, body: str) -> None:
    page.goto(f"/threads/{thread_id}")
    by_label(page, "Your reply").fill(body)
    page.get_by_role("button", name="Post reply").click()
    expect(page.get_by_text(body)).to_be_visible()


def test_unread_replies_retitling_mail_archiving_and_deleting_an_account(new_context):
    admin = new_context().new_page()
    set_up_site_with_open_community(admin)
    alice = new_context().new_page()
    register_and_join(alice, ALICE)
    thread_id = start_thread(alice, "Scale bars on sheet mpas", "How do you catalogue them?")

    # Two replies later, the board says how many are new and leads to the first.
    reply(admin, thread_id, "We record the scale statement as given.")
    reply(admin, thread_id, "And the bar's length in a note.")
    alice.goto(f"/c/{SLUG}")
    badge = alice.get_by_role("link", name=re.compile("2 new replies"))
    expect(badge).to_be_visible()
    check_a11y(alice)
    badge.click()
    expect(alice).to_have_url(re.compile(rf"/threads/{thread_id}(\?[^#]*)?#post-\d+$"))
    expect(alice.get_by_text("New since your last visit")).to_be_visible()
    check_a11y(alice)

    # Alice fixes her title's typo from the first post's edit page.
    alice.get_by_role("link", name=re.compile(r"^Edit")).first.click()
    expect(by_label(alice, "Thread title")).to_have_value("Scale bars on sheet mpas")
    check_a11y(alice)
    by_label(alice, "Thread title").fill("Scale bars on sheet maps")
    alice.get_by_role("button", name="Save changes").click()
    expect(alice.get_by_role("heading", level=1)).to_have_text("Scale bars on sheet maps")

    # The administrator's outgoing mail page (nothing has failed on this site).
    admin.goto("/moderation/mail")
    expect(admin.get_by_role("heading", name="Failed messages")).to_be_visible()
    check_a11y(admin)

    # Archiving: a wrong confirmation keeps what was typed; then the board takes no posts.
    admin.goto(f"/c/{SLUG}/settings")
    check_a11y(admin)
    confirm = admin.get_by_label(re.compile("To confirm, type"))
    confirm.fill("map-librarian")
    admin.get_by_role("button", name="Archive this community").click()
    expect(admin.get_by_label(re.compile("To confirm, type"))).to_have_value("map-librarian")
    check_a11y(admin)
    admin.get_by_label(re.compile("To confirm, type")).fill(SLUG)
    admin.get_by_role("button", name="Archive this community").click()
    expect(admin.get_by_role("status").first).to_contain_text("archived")
    check_a11y(admin)
    admin.goto(f"/c/{SLUG}/settings")
    expect(admin.get_by_role("button", name="Unarchive this community")).to_be_visible()
    alice.goto(f"/threads/{thread_id}")
    expect(alice.get_by_text("This community is archived").first).to_be_visible()
    expect(alice.get_by_role("button", name="Post reply")).to_have_count(0)
    check_a11y(alice)

    # Alice deletes her account: a wrong password first, then hers.
    alice.goto("/settings/delete")
    check_a11y(alice)
    by_label(alice, "Current password").fill("not my password")
    alice.get_by_role("button", name="Delete my account").click()
    expect(alice.locator(".error-summary")).to_be_visible()
    check_a11y(alice)
    by_label(alice, "Current password").fill(PASSWORD)
    alice.get_by_role("button", name="Delete my account").click()
    expect(alice).to_have_url(path_is("/"))
    expect(alice.get_by_text("Your account has been deleted.")).to_be_visible()
    check_a11y(alice)
    admin.goto(f"/threads/{thread_id}")
    expect(admin.get_by_role("heading", name="Former member").first).to_be_visible()
    expect(admin.get_by_text("Alice Atlas")).to_have_count(0)
    check_a11y(admin)
