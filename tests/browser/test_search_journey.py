"""Search in real Chromium: upload a PDF, find a sentence that exists only inside it, open it.

Like the other browser tests this runs `connect serve`, which migrates the database first:
it needs the library tables' migration to be in migrations/versions.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.helpers import (
    by_label,
    check_a11y,
    fill_form,
    path_is,
    playwright_expect,
)
from tests.browser.test_library_journey import set_up_site_with_open_community

expect = playwright_expect()

pytestmark = pytest.mark.browser

from tests.conftest import DOCUMENTS  # noqa: E402

MANUAL = DOCUMENTS / "manual.pdf"
SLUG = "reference"
TITLE = "Language reference, compound statements"
SENTENCE = "keeping all locals in that frame alive until the next garbage collection occurs"


def test_a_sentence_inside_an_uploaded_pdf_is_found_and_opens_the_document(new_context):
    admin = new_context().new_page()
    set_up_site_with_open_community(admin)

    # The administrator (a member of the community) uploads the manual.
    admin.goto(f"/c/{SLUG}/library/new")
    by_label(admin, "Files").set_input_files(MANUAL)
    fill_form(admin, {"Title": TITLE, "Tags": "python"})
    admin.get_by_role("button", name="Upload").click()
    expect(admin).to_have_url(re.compile(rf"/c/{SLUG}/library/\d+$"))
    entry_url = admin.url

    # On the community's pages the header box already searches inside the community.
    reader = new_context().new_page()
    reader.goto(f"/c/{SLUG}")
    box = reader.get_by_role("search", name="Site search").get_by_role("searchbox")
    expect(box).to_have_value(f"in:{SLUG} ")
    check_a11y(reader)

    # The text is extracted and indexed in the background: search until it is there.
    hit = reader.get_by_role("link", name=TITLE)
    deadline = time.monotonic() + 30
    while True:
        reader.goto(f"/c/{SLUG}")
        box.fill(f'in:{SLUG} "{SENTENCE}"')
        box.press("Enter")
        expect(reader).to_have_url(path_is("/search"))
        if hit.count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(hit).to_be_visible()
    result = reader.get_by_role("listitem").filter(has=hit)
    expect(result).to_contain_text("manual.pdf")
    expect(result.locator("mark").first).to_be_visible()
    check_a11y(reader)

    hit.click()
    expect(reader).to_have_url(entry_url)
    expect(reader.get_by_role("heading", level=1)).to_have_text(TITLE)
