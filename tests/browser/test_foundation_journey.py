"""The foundation journey in real Chromium: set up, create a community, a member joins."""

from __future__ import annotations

import re

import pytest

from tests.browser.helpers import (
    PASSWORD,
    by_label,
    check_a11y,
    fill_form,
    path_is,
    playwright_expect,
    register,
    write_png,
)

expect = playwright_expect()

pytestmark = pytest.mark.browser

COMMUNITY = "Rare Books and Special Collections"
SLUG = "rare-books"
MEMBER = {"username": "mira", "display_name": "Mira Member", "email": "mira@example.org"}
PROFILE = {
    "Title": "Special Collections Librarian",
    "Organization": "Folger Library",
    "Bio": "I look after early printed books\nand teach paleography.",
    "Interests": "incunabula, bookbinding, paleography",
}


def fill_profile(page, values: dict[str, str]) -> None:
    # role + name: the visibility checkboxes below carry the same labels ("Title", ...).
    for label, value in values.items():
        page.get_by_role("textbox", name=label, exact=True).fill(value)


def test_admin_sets_up_site_then_member_joins_and_edits_profile(new_context, tmp_path):
    # The administrator opens a fresh site and is sent to set it up.
    admin = new_context().new_page()
    admin.goto("/")
    expect(admin, "this test needs a site nobody has set up yet").to_have_url(path_is("/setup"))
    expect(admin.get_by_role("heading", level=1)).to_have_text("Set up Connect")
    check_a11y(admin)
    fill_form(
        admin,
        {
            "Username": "root",
            "Your name": "Ada Admin",
            "Email": "ada@example.org",
            "Password": PASSWORD,
        },
    )
    admin.get_by_role("button", name="Create administrator").click()

    # Signed in as the administrator, on the new-community form.
    expect(admin).to_have_url(path_is("/communities/new"))
    expect(admin.get_by_role("status")).to_have_text("Welcome! Your site is ready.")
    account_nav = admin.get_by_role("navigation", name="Account")
    expect(account_nav.get_by_role("link", name="Ada Admin")).to_be_visible()
    check_a11y(admin)
    fill_form(
        admin,
        {
            "Name": COMMUNITY,
            "Address": SLUG,
            "Description": "Curators and catalogers of rare materials.",
        },
    )
    by_label(admin, "Visibility").select_option("open")
    admin.get_by_role("button", name="Create community").click()

    expect(admin).to_have_url(path_is(f"/c/{SLUG}"))
    expect(admin.get_by_role("heading", level=1)).to_have_text(COMMUNITY)
    expect(admin.locator(".community-head .meta")).to_contain_text("1 member")
    check_a11y(admin)

    # A second person, in their own browser context, signs up.
    member = new_context().new_page()
    member.goto("/register")
    check_a11y(member)
    register(member, **MEMBER)
    expect(member).to_have_url(path_is("/members/mira"))
    expect(member.get_by_role("heading", level=1)).to_have_text("Mira Member")

    # ...finds the community in the directory and joins it.
    member.get_by_role("navigation", name="Main").get_by_role("link", name="Communities").click()
    expect(member).to_have_url(path_is("/communities"))
    check_a11y(member)
    member.get_by_role("link", name=COMMUNITY).click()
    expect(member).to_have_url(path_is(f"/c/{SLUG}"))
    member.get_by_role("button", name="Join", exact=True).click()
    expect(member.get_by_role("status").first).to_have_text(f"Welcome to {COMMUNITY}!")
    expect(member.get_by_role("button", name="Leave community")).to_be_visible()
    expect(member.get_by_role("button", name="Join", exact=True)).to_have_count(0)
    expect(member.locator(".community-head .meta")).to_contain_text("2 members")
    expect(member.locator(".community-head .meta")).to_contain_text("you are a member")
    check_a11y(member)

    # ...edits the profile; a file that is not an image is refused with a clear error.
    member.get_by_role("navigation", name="Account").get_by_role("link", name="Mira Member").click()
    member.get_by_role("link", name="Edit profile").click()
    expect(member).to_have_url(path_is("/members/mira/edit"))
    check_a11y(member)
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("these are notes, not pixels")
    fill_profile(member, PROFILE)
    by_label(member, "Photo").set_input_files(not_an_image)
    member.get_by_role("button", name="Save profile").click()
    summary = member.get_by_role("alert")
    expect(summary).to_contain_text("Please check the form")
    expect(summary).to_contain_text("That file is not an image we can read.")
    expect(by_label(member, "Photo")).to_have_accessible_description(
        re.compile("not an image we can read")
    )
    # What was typed survives the error.
    expect(member.get_by_role("textbox", name="Title", exact=True)).to_have_value(PROFILE["Title"])
    check_a11y(member)

    by_label(member, "Photo").set_input_files(write_png(tmp_path / "mira.png"))
    member.get_by_role("button", name="Save profile").click()
    expect(member).to_have_url(path_is("/members/mira"))
    expect(member.get_by_role("status").first).to_have_text("Your profile is saved.")
    profile = member.locator("article.profile")
    expect(profile).to_contain_text("Special Collections Librarian, Folger Library")
    expect(profile.get_by_role("region", name="About")).to_contain_text("teach paleography")
    interests = profile.get_by_role("region", name="Interests").get_by_role("listitem")
    expect(interests).to_have_text(["incunabula", "bookbinding", "paleography"])
    communities = profile.get_by_role("region", name="Communities")
    expect(communities.get_by_role("link", name=COMMUNITY)).to_be_visible()
    avatar = profile.locator("img.avatar")
    expect(avatar).to_have_attribute("src", re.compile(r"^/members/mira/avatar\?v="))
    # The 120×80 upload came back loaded and cropped to a square.
    size = avatar.evaluate("img => img.complete && [img.naturalWidth, img.naturalHeight]")
    assert size == [80, 80]
    check_a11y(member)

    # The administrator sees the new member on the community's Members tab...
    admin.get_by_role("navigation", name=COMMUNITY).get_by_role("link", name="Members").click()
    expect(admin).to_have_url(path_is(f"/c/{SLUG}/members"))
    expect(admin.get_by_role("status")).to_have_text("2 members")
    members = admin.locator("ul.member-list").last
    expect(members.get_by_role("link", name="Mira Member")).to_be_visible()
    expect(members.get_by_role("link", name="Ada Admin")).to_be_visible()
    check_a11y(admin)

    # ...and in the member directory.
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    expect(admin).to_have_url(path_is("/members"))
    expect(admin.get_by_role("link", name="Mira Member")).to_be_visible()
    check_a11y(admin)

    # The member signs out and back in through the sign-in page.
    member.get_by_role("button", name="Sign out").click()
    expect(member.get_by_role("status").first).to_have_text("You are signed out.")
    member.get_by_role("navigation", name="Account").get_by_role("link", name="Sign in").click()
    expect(member).to_have_url(path_is("/login"))
    check_a11y(member)
    fill_form(member, {"Username or email": "mira@example.org", "Password": PASSWORD})
    member.get_by_role("button", name="Sign in").click()
    expect(member).to_have_url(path_is("/"))
    expect(member.get_by_role("heading", level=1)).to_have_text("Welcome back, Mira Member")


# Kept after the journey (pytest runs a file in order): on a fresh site, the first
# account registered here would stand in for the administrator the journey sets up.
def test_register_with_taken_username_keeps_what_was_typed(new_context):
    first = new_context().new_page()
    register(first, username="taken", display_name="First Comer", email="first@example.org")
    expect(first).to_have_url(path_is("/members/taken"))

    second = new_context().new_page()
    register(second, username="taken", display_name="Late Comer", email="late@example.org")
    expect(second).to_have_url(path_is("/register"))
    expect(second.get_by_role("alert")).to_contain_text("That username is taken.")
    username = by_label(second, "Username")
    expect(username).to_have_attribute("aria-invalid", "true")
    expect(username).to_have_accessible_description(re.compile("That username is taken."))
    expect(by_label(second, "Email")).to_have_value("late@example.org")
    expect(by_label(second, "Your name")).to_have_value("Late Comer")
    expect(by_label(second, "Password")).to_have_value("")
    check_a11y(second)
