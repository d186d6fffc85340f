"""Files attached to discussion posts become entries in "Discussion attachments"."""

import re

from tests.conftest import csrf_from
from tests.library.helpers import count, multipart_body, open_library, stored


def form_post(client, url: str, fields: list[tuple[str, str]], files: list[tuple[str, bytes]]):
    """An HTML form sent as the browser does: fields in order (the token first), then files."""
    parts = [(f'form-data; name="{k}"'.encode(), v.encode()) for k, v in fields]
    parts += [(f'form-data; name="file"; filename="{n}"'.encode(), d) for n, d in files]
    body, content_type = multipart_body(parts)
    return client.post(
        url, content=body, headers={"Content-Type": content_type}, follow_redirects=False
    )


def library_items(client, query="view=all"):
    return client.get(f"/api/v1/communities/cataloging/library?{query}").json()


def test_new_thread_and_reply_forms_attach_files(site, admin, alice, bob):
    _, (a, b) = open_library(site, admin, alice, bob)
    token = csrf_from(a.get("/c/cataloging/threads/new").text)
    answer = form_post(
        a,
        "/c/cataloging/threads/new",
        [("csrf_token", token), ("title", "Agenda"), ("body", "See the attached agenda.")],
        [("agenda.pdf", b"%PDF-1.4\n"), ("notes.txt", b"notes\n")],
    )
    assert answer.status_code == 303, answer.text
    thread_url = answer.headers["location"]

    root = library_items(a, "")
    (folder,) = root["folders"]
    assert folder["name"] == "Discussion attachments" and folder["kind"] == "attachments"
    inside = library_items(a, f"folder={folder['id']}")["items"]
    assert sorted(e["title"] for e in inside) == ["agenda.pdf", "notes.txt"]
    assert all(e["post_id"] and e["thread_id"] for e in inside)

    page = b.get(thread_url).text
    for entry in inside:
        assert f'href="/c/cataloging/library/{entry["id"]}"' in page

    token = csrf_from(page)
    reply = form_post(
        b,
        f"{thread_url}/reply",
        [("csrf_token", token), ("body", "Here are my comments.")],
        [("comments.txt", b"comments\n")],
    )
    assert reply.status_code == 303
    titles = {e["title"] for e in library_items(a)["items"]}
    assert titles == {"agenda.pdf", "notes.txt", "comments.txt"}
    assert "comments.txt" in b.get(thread_url).text
    # The entry page links back to the discussion.
    entry = next(e for e in library_items(a)["items"] if e["title"] == "comments.txt")
    assert f'href="/posts/{entry["post_id"]}"' in a.get(entry["url"]).text

    # A plain reply (no file) still works, urlencoded or multipart.
    plain = b.post(f"{thread_url}/reply", data={"csrf_token": token, "body": "no files"})
    assert plain.status_code == 200 and "no files" in plain.text


def test_the_api_takes_multipart_threads_and_replies(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    answer = a.post(
        "/api/v1/communities/cataloging/threads",
        data={"title": "Budget", "body": "Figures attached."},
        files=[("file", ("budget.csv", b"item,cost\nbooks,10\n", "text/csv"))],
    )
    assert answer.status_code == 201, answer.text
    thread = answer.json()
    (attached,) = thread["attachments"]
    assert attached["title"] == "budget.csv" and attached["url"].startswith(
        "/c/cataloging/library/"
    )
    reply = a.post(
        f"/api/v1/threads/{thread['id']}/posts",
        data={"body": "Revised.", "reply_to": str(thread["first_post_id"])},
        files=[("file", ("budget-v2.csv", b"item,cost\nbooks,12\n", "text/csv"))],
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["reply_to"] == thread["first_post_id"]
    assert reply.json()["attachments"][0]["title"] == "budget-v2.csv"
    # JSON still works and has no attachments.
    plain = a.post(f"/api/v1/threads/{thread['id']}/posts", json={"body": "ok"})
    assert plain.status_code == 201 and "attachments" not in plain.json()


def article(html: str, post_id: int) -> str:
    found = re.search(rf'<article class="post[^"]*" id="post-{post_id}".*?</article>', html, re.S)
    assert found, f"no post {post_id}"
    return found.group(0)


def test_live_fragments_list_attachments_as_the_thread_page_does(site, admin, alice, bob):
    """Live pages insert and replace posts with /posts/{id}/fragment: it shows a post, with
    its attached files, exactly as the thread page does."""
    _, (a, b) = open_library(site, admin, alice, bob)
    thread = a.post(
        "/api/v1/communities/cataloging/threads",
        data={"title": "Budget", "body": "Figures attached."},
        files=[("file", ("budget.csv", b"item,cost\nbooks,10\n", "text/csv"))],
    ).json()
    reply = a.post(
        f"/api/v1/threads/{thread['id']}/posts",
        data={"body": "Revised.", "reply_to": str(thread["first_post_id"])},
        files=[("file", ("budget-v2.csv", b"item,cost\nbooks,12\n", "text/csv"))],
    ).json()
    page = b.get(f"/threads/{thread['id']}").text
    for post_id, title in ((thread["first_post_id"], "budget.csv"), (reply["id"], "budget-v2.csv")):
        fragment = b.get(f"/posts/{post_id}/fragment")
        assert fragment.status_code == 200
        assert 'aria-label="Attachments"' in fragment.text and f">{title}</a>" in fragment.text
        assert fragment.text.strip() == article(page, post_id)


def test_a_refused_attachment_refuses_the_post(site, admin, alice):
    _, (a,) = open_library(site, admin, alice)
    answer = a.post(
        "/api/v1/communities/cataloging/threads",
        data={"title": "Tool", "body": "Run this."},
        files=[("file", ("tool.pdf", b"MZ\x90\x00\x03\x00binary", "application/pdf"))],
    )
    assert answer.status_code == 415
    assert a.get("/api/v1/communities/cataloging/threads").json()["total"] == 0
    assert count(site) == 0 and stored(site) == (set(), [])

    token = csrf_from(a.get("/c/cataloging/threads/new").text)
    form = form_post(
        a,
        "/c/cataloging/threads/new",
        [("csrf_token", token), ("title", "Tool"), ("body", "Run this.")],
        [("tool.pdf", b"MZ\x90\x00binary")],
    )
    assert form.status_code == 415
    assert "not accepted" in form.text and 'value="Tool"' in form.text
    assert count(site) == 0 and stored(site) == (set(), [])


def test_attachments_of_held_posts_are_held_too(site, admin, alice, bob):
    owner, (a, b) = open_library(site, admin, alice, bob, moderation="all")
    answer = a.post(
        "/api/v1/communities/cataloging/threads",
        data={"title": "Held", "body": "Wait for it."},
        files=[("file", ("held.txt", b"held\n"))],
    )
    thread = answer.json()
    assert thread["status"] == "pending"
    (attached,) = thread["attachments"]
    assert attached["status"] == "pending"
    assert b.get(f"/api/v1/library/entries/{attached['id']}").status_code == 404
    assert library_items(b)["total"] == 0
    assert a.get(f"/api/v1/library/entries/{attached['id']}").status_code == 200
    assert owner.get(f"/api/v1/library/entries/{attached['id']}").status_code == 200


def attachment_seen_by(client, attached, word) -> list[bool]:
    """Whether the client finds the attached entry: its page, search, the listing, and
    (when it has the page) the download."""
    entry = client.get(f"/api/v1/library/entries/{attached['id']}")
    found = client.get("/api/v1/search", params={"q": word, "type": "entry"}).json()
    listed = library_items(client)["items"]
    seen = [
        entry.status_code == 200,
        bool(found["items"]),
        attached["id"] in {e["id"] for e in listed},
    ]
    if entry.status_code == 200:
        file_url = entry.json()["files"][0]["download_url"]
        seen.append(client.get(file_url).status_code == 200)
    return seen


def test_deleting_a_post_or_its_thread_takes_its_attachments_out_of_sight(site, admin, alice, bob):
    owner, (a, b) = open_library(site, admin, alice, bob)
    started = a.post(
        "/api/v1/communities/cataloging/threads",
        data={"title": "Kickoff", "body": "The agenda."},
        files=[("file", ("zebra-agenda.txt", b"zebra agenda\n", "text/plain"))],
    ).json()
    replied = a.post(
        f"/api/v1/threads/{started['id']}/posts",
        data={"body": "The figures."},
        files=[("file", ("okapi-figures.txt", b"okapi figures\n", "text/plain"))],
    ).json()
    site.drain()

    def readers():
        return (a, b, site.anonymous())

    (agenda,), (figures,) = started["attachments"], replied["attachments"]
    for client in readers():
        assert attachment_seen_by(client, figures, "okapi") == [True] * 4
    figures_file, agenda_file = (
        a.get(f"/api/v1/library/entries/{e['id']}").json()["files"][0]["download_url"]
        for e in (figures, agenda)
    )

    assert a.delete(f"/api/v1/posts/{replied['id']}").status_code == 204
    site.drain()
    for client in readers():
        assert attachment_seen_by(client, figures, "okapi") == [False] * 3
        assert client.get(figures_file).status_code == 404
    assert attachment_seen_by(owner, figures, "okapi") == [True] * 4
    assert attachment_seen_by(b, agenda, "zebra") == [True] * 4

    # Deleting the first post removes the whole thread, attachments and all.
    assert a.delete(f"/api/v1/posts/{started['first_post_id']}").status_code == 204
    site.drain()
    for client in readers():
        assert attachment_seen_by(client, agenda, "zebra") == [False] * 3
        assert client.get(agenda_file).status_code == 404
    assert attachment_seen_by(owner, agenda, "zebra") == [True] * 4


def test_hiding_a_thread_hides_its_replies_attachments_until_it_is_restored(
    site, admin, alice, bob
):
    owner, (a, b) = open_library(site, admin, alice, bob)
    started = a.post(
        "/api/v1/communities/cataloging/threads", json={"title": "Budget", "body": "Below."}
    ).json()
    replied = b.post(
        f"/api/v1/threads/{started['id']}/posts",
        data={"body": "My sheet."},
        files=[("file", ("quagga-sheet.txt", b"quagga sheet\n", "text/plain"))],
    ).json()
    site.drain()
    (sheet,) = replied["attachments"]
    sheet_file = b.get(f"/api/v1/library/entries/{sheet['id']}").json()["files"][0]
    outsider = site.anonymous()
    assert attachment_seen_by(outsider, sheet, "quagga") == [True] * 4

    first = started["first_post_id"]
    assert owner.post(f"/api/v1/posts/{first}/hide", json={"reason": "Leak"}).status_code == 200
    site.drain()
    for client in (a, outsider):
        assert attachment_seen_by(client, sheet, "quagga") == [False] * 3
        assert client.get(sheet_file["download_url"]).status_code == 404
    assert attachment_seen_by(owner, sheet, "quagga") == [True] * 4

    assert owner.post(f"/api/v1/posts/{first}/restore", json={}).status_code == 200
    site.drain()
    assert attachment_seen_by(outsider, sheet, "quagga") == [True] * 4
