"""The library journey in real Chromium: a folder, an upload, a new version, both downloads."""

from __future__ import annotations

import re
from pathlib import Path

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

from tests.conftest import DOCUMENTS  # noqa: E402

COMMUNITY = "Reference Librarians"
SLUG = "reference"
MEMBER = {"username": "rita", "display_name": "Rita Reference", "email": "rita@example.org"}
TITLE = "The Python language reference"


def set_up_site_with_open_community(page) -> None:
    page.goto("/")
    expect(page, "this test needs a site nobody has set up yet").to_have_url(path_is("/setup"))
    fill_form(
        page,
        {"Username": "root", "Your name": "Ada Admin", "Email": "ada@example.org",
         "Password": PASSWORD},
    )  # fmt: skip
    page.get_by_role("button", name="Create administrator").click()
    expect(page).to_have_url(path_is("/communities/new"))
    fill_form(page, {"Name": COMMUNITY, "Address": SLUG, "Description": "Reference desk."})
    by_label(page, "Visibility").select_option("open")
    page.get_by_role("button", name="Create community").click()
    expect(page).to_have_url(path_is(f"/c/{SLUG}"))


def version_link(filename: str, version: int) -> re.Pattern[str]:
    # Chromium puts a space before the visually hidden ", version N".
    return re.compile(rf"^{re.escape(filename)}\s*, version {version}$")


def downloaded(page, link) -> bytes:
    with page.expect_download() as event:
        link.click()
    return Path(event.value.path()).read_bytes()


def test_member_uploads_a_document_and_a_new_version_then_downloads_both(new_context, tmp_path):
    manual = (DOCUMENTS / "manual.pdf").read_bytes()
    second = tmp_path / "manual-2nd-edition.pdf"
    second.write_bytes(manual + b"\n% second edition\n")

    admin = new_context().new_page()
    set_up_site_with_open_community(admin)

    rita = new_context().new_page()
    register(rita, **MEMBER)
    expect(rita).to_have_url(path_is(f"/members/{MEMBER['username']}"))
    rita.goto(f"/c/{SLUG}")
    rita.get_by_role("button", name="Join", exact=True).click()
    expect(rita.get_by_role("status").first).to_have_text(f"Welcome to {COMMUNITY}!")

    # The Library tab, empty; she makes a folder and opens it.
    rita.get_by_role("navigation", name=COMMUNITY).get_by_role("link", name="Library").click()
    expect(rita).to_have_url(path_is(f"/c/{SLUG}/library"))
    expect(rita.get_by_role("heading", name="Library")).to_be_visible()
    check_a11y(rita)
    rita.get_by_label("New folder").fill("Manuals")
    rita.get_by_role("button", name="Create folder").click()
    expect(rita.get_by_role("status").first).to_have_text("Folder “Manuals” created.")
    expect(rita.get_by_role("navigation", name="Folder path")).to_contain_text("Manuals")
    check_a11y(rita)

    # She adds the manual to the folder.
    rita.get_by_role("link", name="Add a document").first.click()
    expect(rita).to_have_url(path_is(f"/c/{SLUG}/library/new"))
    expect(by_label(rita, "Folder")).to_have_value(re.compile(r"^\d+$"))
    check_a11y(rita)
    by_label(rita, "Files").set_input_files(DOCUMENTS / "manual.pdf")
    fill_form(rita, {"Title": TITLE, "Tags": "python, reference"})
    rita.get_by_label("Description").fill("The *compound statements* chapter.")
    rita.get_by_role("button", name="Upload").click()
    expect(rita).to_have_url(re.compile(rf"/c/{SLUG}/library/\d+$"))
    expect(rita.get_by_role("status").first).to_have_text("Your document is in the library.")
    expect(rita.get_by_role("heading", level=1)).to_have_text(TITLE)
    breadcrumb = rita.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb.get_by_role("link", name="Manuals")).to_be_visible()
    check_a11y(rita)
    entry_url = rita.url

    # A second version of the same file.
    rita.get_by_label("New version of manual.pdf").set_input_files(second)
    rita.get_by_role("button", name="Upload new version").click()
    expect(rita.get_by_role("status").first).to_have_text(
        "Version 2 of manual-2nd-edition.pdf is now current."
    )
    versions = rita.get_by_role("table", name="Versions of manual-2nd-edition.pdf")
    expect(versions.get_by_role("row")).to_have_count(3)  # header + 2 versions
    check_a11y(rita)

    # Both versions download, byte for byte; the main button gives the current one.
    first = downloaded(rita, versions.get_by_role("link", name=version_link("manual.pdf", 1)))
    latest = downloaded(
        rita, versions.get_by_role("link", name=version_link("manual-2nd-edition.pdf", 2))
    )
    assert first == manual
    assert latest == second.read_bytes()
    current = downloaded(
        rita, rita.get_by_role("link", name="Download manual-2nd-edition.pdf", exact=True)
    )
    assert current == second.read_bytes()

    # Another reader finds it in the folder, with its download count.
    admin.goto(f"/c/{SLUG}/library")
    admin.get_by_role("link", name="Manuals").click()
    row = admin.get_by_role("row").filter(has_text=TITLE)
    expect(row).to_contain_text("version 2")
    expect(row.get_by_role("cell").last).to_have_text("3")
    check_a11y(admin)
    admin.goto(entry_url)
    expect(admin.get_by_role("button", name="Discuss this document")).to_be_visible()
    check_a11y(admin)
