"""Safe downloads: headers, ETag, ranges, versions, and who may download at all."""

import pytest

from connect.security import FILE_CONTENT_SECURITY_POLICY
from tests.library.helpers import DOCUMENTS, open_library, upload

PDF = (DOCUMENTS / "manual.pdf").read_bytes()


def first_file(answer) -> dict:
    assert answer.status_code == 201, answer.text
    return answer.json()["files"][0]


def test_file_responses_are_attachments_that_cannot_run(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    file = first_file(upload(a, "cataloging", [("Manuel d’utilisation.pdf", PDF)]))
    got = site.anonymous().get(file["download_url"])
    assert got.status_code == 200 and got.content == PDF
    h = got.headers
    assert h["content-type"] == "application/pdf"
    assert h["content-disposition"] == (
        'attachment; filename="Manuel dutilisation.pdf"; '
        "filename*=UTF-8''Manuel%20d%E2%80%99utilisation.pdf"
    )
    assert h["x-content-type-options"] == "nosniff"
    assert h["content-security-policy"] == FILE_CONTENT_SECURITY_POLICY
    assert "sandbox" in h["content-security-policy"]
    assert h["etag"] == f'"{file["sha256"]}"'
    assert h["content-length"] == str(len(PDF)) and h["accept-ranges"] == "bytes"
    assert "private" in h["cache-control"]


def test_web_pages_are_served_as_plain_text(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    html = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
    file = first_file(upload(a, "cataloging", [("evil.html", html)]))
    got = a.get(file["download_url"])
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.content == html


def test_etag_revalidation_and_ranges(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    file = first_file(upload(a, "cataloging", [("manual.pdf", PDF)]))
    url = file["download_url"]
    etag = a.get(url).headers["etag"]
    not_modified = a.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert a.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200

    head = a.get(url, headers={"Range": "bytes=0-99"})
    assert head.status_code == 206
    assert head.headers["content-range"] == f"bytes 0-99/{len(PDF)}"
    assert head.content == PDF[:100]
    tail = a.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == PDF[-50:]
    middle = a.get(url, headers={"Range": "bytes=1000-", "If-Range": etag})
    assert middle.status_code == 206 and middle.content == PDF[1000:]
    stale = a.get(url, headers={"Range": "bytes=1000-", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == PDF
    beyond = a.get(url, headers={"Range": f"bytes={len(PDF) + 10}-"})
    assert beyond.status_code == 416
    # The range headers keep the file headers.
    assert head.headers["content-disposition"].startswith("attachment;")
    assert head.headers["x-content-type-options"] == "nosniff"


def test_the_page_download_link_and_version_numbers(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    file = first_file(upload(a, "cataloging", [("a.txt", b"one\n")]))
    assert a.get(f"/library/files/{file['id']}/download").content == b"one\n"
    assert a.get(f"/library/files/{file['id']}/download?version=1").content == b"one\n"
    assert a.get(f"/library/files/{file['id']}/download?version=2").status_code == 404
    assert a.get(file["download_url"] + "?version=two").status_code == 422
    assert a.get("/api/v1/library/files/999/download").status_code == 404


@pytest.mark.parametrize("visibility", ["closed", "private"])
def test_only_readers_of_the_community_can_download(site, admin, alice, bob, visibility):
    owner, _ = open_library(site, admin, slug="council", visibility=visibility)
    entry = upload(owner, "council", [("budget.pdf", PDF)]).json()
    file = entry["files"][0]
    outsider, anonymous = site.signed_in(bob), site.anonymous()
    for client in (outsider, anonymous):
        assert client.get(file["download_url"]).status_code == 404
        assert client.get(f"/library/files/{file['id']}/download").status_code == 404
        assert client.get(file["download_url"] + "?version=1").status_code == 404
        assert client.get(f"/api/v1/library/entries/{entry['id']}").status_code == 404
        assert client.get(f"/c/council/library/{entry['id']}").status_code == 404
        assert budget_not_in(client.get("/api/v1/communities/council/library"))
        assert budget_not_in(client.get("/c/council/library"))
    # Once a member, they can.
    owner.put("/api/v1/communities/council/members/bob", json={"role": "member"})
    member = site.signed_in(bob)
    assert member.get(file["download_url"]).content == PDF
    assert member.get(f"/c/council/library/{entry['id']}").status_code == 200


def budget_not_in(response) -> bool:
    assert response.status_code in (200, 403, 404)
    return "budget.pdf" not in response.text


def test_a_site_moderator_can_download_from_closed_communities(site, admin, alice):
    owner, _ = open_library(site, admin, slug="council", visibility="closed")
    file = first_file(upload(owner, "council", [("x.txt", b"minutes\n")]))
    moderator = site.member("mod", role="moderator")
    assert site.signed_in(moderator).get(file["download_url"]).content == b"minutes\n"


def test_a_malformed_range_is_ignored_and_the_whole_file_sent(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    file = first_file(upload(a, "cataloging", [("manual.pdf", PDF)]))
    for malformed in ("bytes=abc", "bytes=", "pages=1-2", "bytes=50-10", "nonsense"):
        got = a.get(file["download_url"], headers={"Range": malformed})
        assert got.status_code == 200, (malformed, got.status_code)
        assert got.content == PDF and "content-range" not in got.headers


def test_a_name_without_ascii_letters_falls_back_to_download_keeping_its_extension(
    site, admin, alice
):
    _, (a,) = open_library(site, admin, alice)
    for name, fallback in (
        ("日本語の文書.txt", "download.txt"),
        ("日本語", "download"),
        ("Résumé.txt", "Resume.txt"),
        ("README", "README"),
    ):
        file = first_file(upload(a, "cataloging", [(name, b"some words\n")]))
        disposition = a.get(file["download_url"]).headers["content-disposition"]
        assert disposition.startswith(f'attachment; filename="{fallback}"; '), disposition


def test_a_version_below_1_says_versions_count_from_1(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    file = first_file(upload(a, "cataloging", [("one.txt", b"one\n")]))
    for wrong in ("0", "-1", "two"):
        answer = a.get(file["download_url"], params={"version": wrong})
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["message"] == "Ask for a version number from 1.", error
        assert error["fields"] == {"version": "A version number from 1."}
