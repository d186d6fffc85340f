"""Member profiles: who may read and edit which fields, over the API and the HTML pages."""

from tests.conftest import csrf_from, error_code

FULL_PROFILE = {
    "display_name": "Alice A. Archivist",
    "pronouns": "she/her",
    "title": "Cataloging Librarian",
    "organization": "Riverside Public Library",
    "location": "Springfield",
    "bio": "I describe things\nfor a living.",
    "interests": "cataloging,  rare books , cataloging, , metadata",
    "public_fields": ["title", "organization", "bio"],
    "listed": False,
}
HIDDEN_VALUES = ("she/her", "Springfield", "rare books", "metadata")


def test_self_edits_every_profile_field(site, alice):
    me = site.signed_in(alice)
    answer = me.patch("/api/v1/members/alice", json=FULL_PROFILE)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["display_name"] == "Alice A. Archivist"
    assert body["pronouns"] == "she/her"
    assert body["title"] == "Cataloging Librarian"
    assert body["organization"] == "Riverside Public Library"
    assert body["location"] == "Springfield"
    assert body["bio"] == "I describe things\nfor a living."
    # Comma text becomes a clean list: trimmed, no blanks, no duplicates, order kept.
    assert body["interests"] == ["cataloging", "rare books", "metadata"]
    assert body["public_fields"] == ["title", "organization", "bio"]
    assert body["listed"] is False

    # It sticks: a fresh read (also through /me) shows the same.
    again = me.get("/api/v1/members/alice").json()
    assert {k: again[k] for k in body if k != "avatar_url"} == {
        k: body[k] for k in body if k != "avatar_url"
    }
    assert me.get("/api/v1/me").json()["interests"] == ["cataloging", "rare books", "metadata"]


def test_bearer_token_can_edit_own_profile(site, alice):
    answer = site.bearer(alice).patch("/api/v1/members/alice", json={"title": "Archivist"})
    assert answer.status_code == 200
    assert site.anonymous().get("/api/v1/members/alice").json()["title"] == "Archivist"


def test_admin_may_edit_anyones_profile(site, admin, alice):
    answer = site.signed_in(admin).patch("/api/v1/members/alice", json={"title": "Fixed by admin"})
    assert answer.status_code == 200
    assert site.anonymous().get("/api/v1/members/alice").json()["title"] == "Fixed by admin"
    # The edit is in the moderation log with what it changed; a member's own edits are not.
    site.signed_in(alice).patch("/api/v1/members/alice", json={"title": "Mine again"})
    log = site.signed_in(admin).get("/api/v1/moderation/log").json()
    edits = [row for row in log["items"] if row["action"] == "profile.edit"]
    assert len(edits) == 1
    assert edits[0]["before"] == {"title": ""} and edits[0]["after"] == {"title": "Fixed by admin"}


def test_others_and_anonymous_cannot_edit_and_nothing_changes(site, alice, bob):
    before = site.signed_in(alice).get("/api/v1/members/alice").json()

    answer = site.signed_in(bob).patch("/api/v1/members/alice", json={"title": "Hacked"})
    assert answer.status_code == 403
    assert error_code(answer) == "forbidden"

    answer = site.bearer(bob).patch("/api/v1/members/alice", json={"display_name": "Hacked"})
    assert answer.status_code == 403

    answer = site.anonymous().patch("/api/v1/members/alice", json={"title": "Hacked"})
    assert answer.status_code == 401
    assert error_code(answer) == "not_signed_in"

    assert site.signed_in(alice).get("/api/v1/members/alice").json() == before


def test_cookie_edit_without_csrf_header_is_refused(site, alice):
    me = site.signed_in(alice)
    del me.headers["X-CSRF-Token"]
    answer = me.patch("/api/v1/members/alice", json={"title": "No token"})
    assert answer.status_code == 403
    assert error_code(answer) == "csrf_failed"
    assert me.get("/api/v1/members/alice").json()["title"] is None


def test_overlong_fields_are_refused_with_field_reasons_and_change_nothing(site, alice):
    me = site.signed_in(alice)
    assert me.patch("/api/v1/members/alice", json={"title": "Original"}).status_code == 200
    before = me.get("/api/v1/members/alice").json()
    limits = {
        "display_name": 100,
        "pronouns": 40,
        "title": 120,
        "organization": 160,
        "location": 120,
        "bio": 10_000,
        "interests": 500,
    }
    for name, limit in limits.items():
        # At the limit is fine...
        ok = me.patch("/api/v1/members/alice", json={name: "x" * limit})
        assert ok.status_code == 200, (name, ok.text)
        assert me.patch("/api/v1/members/alice", json={name: before[name] or ""}).status_code in (
            200,
            422,  # display_name cannot be emptied; it is reset below anyway
        )
        # ...one more is not, and a valid field in the same request is not saved either.
        other = "pronouns" if name != "pronouns" else "location"
        answer = me.patch("/api/v1/members/alice", json={other: "Nope", name: "x" * (limit + 1)})
        assert answer.status_code == 422, name
        assert error_code(answer) == "invalid"
        assert name in answer.json()["error"]["fields"]
    me.patch("/api/v1/members/alice", json={"display_name": before["display_name"]})
    assert me.get("/api/v1/members/alice").json() == before


def test_bad_values_are_refused(site, alice):
    me = site.signed_in(alice)
    before = me.get("/api/v1/members/alice").json()
    cases = [
        ({"display_name": "   "}, "display_name"),
        ({"title": 42}, "title"),
        ({"public_fields": ["title", "email"]}, "public_fields"),
        ({"public_fields": "title"}, "public_fields"),
        ({"listed": "yes"}, "listed"),
    ]
    for body, field in cases:
        answer = me.patch("/api/v1/members/alice", json=body)
        assert answer.status_code == 422, body
        assert field in answer.json()["error"]["fields"], body
    assert me.get("/api/v1/members/alice").json() == before


def test_unknown_fields_are_refused_and_change_nothing(site, alice):
    me = site.signed_in(alice)
    before = me.get("/api/v1/members/alice").json()
    for body in (
        {"title": "New title", "site_role": "admin"},
        {"email": "evil@example.org"},
        {"avatar_sha256": "0" * 64},
        {"username": "root"},
    ):
        answer = me.patch("/api/v1/members/alice", json=body)
        assert answer.status_code == 422, body
        assert error_code(answer) == "invalid"
        assert set(answer.json()["error"]["fields"]) == set(body) - {"title"}
    after = me.get("/api/v1/members/alice").json()
    assert after == before
    assert after["site_role"] == "member"


def test_unknown_member_is_404(site, alice):
    assert site.anonymous().get("/api/v1/members/nobody").status_code == 404
    answer = site.signed_in(alice).patch("/api/v1/members/nobody", json={"title": "x"})
    assert answer.status_code == 404


def test_hidden_fields_are_shown_to_self_and_admin_only(site, admin, alice, bob):
    assert (
        site.signed_in(alice).patch("/api/v1/members/alice", json=FULL_PROFILE).status_code == 200
    )

    for viewer in (site.anonymous(), site.signed_in(bob)):
        seen = viewer.get("/api/v1/members/alice").json()
        assert seen["display_name"] == "Alice A. Archivist"
        assert seen["title"] == "Cataloging Librarian"
        assert seen["organization"] == "Riverside Public Library"
        assert seen["bio"] == "I describe things\nfor a living."
        assert seen["pronouns"] is None
        assert seen["location"] is None
        assert seen["interests"] == []
        assert "email" not in seen and "alice@example.org" not in str(seen)
        assert "public_fields" not in seen and "preferences" not in seen
        for value in HIDDEN_VALUES:
            assert value not in str(seen)

        page = viewer.get("/members/alice")
        assert page.status_code == 200
        assert "Cataloging Librarian" in page.text
        assert "Riverside Public Library" in page.text
        for value in (*HIDDEN_VALUES, "alice@example.org"):
            assert value not in page.text, value

    for viewer in (site.signed_in(alice), site.signed_in(admin)):
        seen = viewer.get("/api/v1/members/alice").json()
        assert seen["pronouns"] == "she/her"
        assert seen["location"] == "Springfield"
        assert seen["interests"] == ["cataloging", "rare books", "metadata"]
        assert seen["email"] == "alice@example.org"
        page = viewer.get("/members/alice")
        for value in HIDDEN_VALUES:
            assert value in page.text, value


def test_hidden_fields_stay_hidden_in_directory_json(site, alice, bob):
    me = site.signed_in(alice)
    me.patch("/api/v1/members/alice", json={"location": "Springfield", "public_fields": ["title"]})
    items = site.signed_in(bob).get("/api/v1/members?q=alice").json()["items"]
    assert [m["username"] for m in items] == ["alice"]
    assert items[0]["location"] is None
    assert "email" not in items[0]
    assert "Springfield" not in site.anonymous().get("/members?q=alice").text


def test_email_never_shown_to_others(site, alice, bob):
    for viewer in (site.anonymous(), site.signed_in(bob), site.bearer(bob)):
        assert "alice@example.org" not in viewer.get("/api/v1/members/alice").text
        assert "alice@example.org" not in viewer.get("/members/alice").text
        assert "alice@example.org" not in viewer.get("/api/v1/members").text
        assert "alice@example.org" not in viewer.get("/members").text
    assert site.signed_in(alice).get("/api/v1/me").json()["email"] == "alice@example.org"


def test_edit_form_saves_and_redirects(site, alice):
    me = site.signed_in(alice)
    page = me.get("/members/alice/edit")
    assert page.status_code == 200
    answer = me.post(
        "/members/alice/edit",
        data={
            "csrf_token": csrf_from(page.text),
            "display_name": "Alice Form",
            "title": "Head of Metadata",
            "interests": "rda, linked data",
            "public_fields": ["title", "interests"],
            "listed": "on",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/members/alice"
    body = me.get("/api/v1/members/alice").json()
    assert body["display_name"] == "Alice Form"
    assert body["title"] == "Head of Metadata"
    assert body["interests"] == ["rda", "linked data"]
    assert body["public_fields"] == ["title", "interests"]
    assert body["listed"] is True
    # The checkboxes shown on the next visit reflect what was saved.
    again = me.get("/members/alice/edit").text
    assert 'id="pub-title" name="public_fields" value="title" checked' in again
    assert 'id="pub-location" name="public_fields" value="location">' in again


def test_edit_form_keeps_input_on_error_and_saves_nothing(site, alice):
    me = site.signed_in(alice)
    page = me.get("/members/alice/edit")
    answer = me.post(
        "/members/alice/edit",
        data={
            "csrf_token": csrf_from(page.text),
            "display_name": "Alice Kept",
            "title": "T" * 121,
            "organization": "Kept Library",
            "bio": "Kept bio text",
            "public_fields": ["organization"],
        },
    )
    assert answer.status_code == 422
    assert "Use at most 120 characters." in answer.text
    assert 'value="Alice Kept"' in answer.text
    assert 'value="Kept Library"' in answer.text
    assert "Kept bio text" in answer.text
    assert 'value="organization" checked' in answer.text
    assert 'value="title" checked' not in answer.text
    # Nothing was saved.
    body = me.get("/api/v1/members/alice").json()
    assert body["display_name"] == "Alice Archivist"
    assert body["organization"] is None
    assert body["listed"] is True


def test_edit_form_refuses_others_and_bad_csrf(site, alice, bob):
    other = site.signed_in(bob)
    page = other.get("/members/alice/edit")
    assert page.status_code in (403, 404)
    own = other.get("/members/bob/edit")
    answer = other.post(
        "/members/alice/edit",
        data={"csrf_token": csrf_from(own.text), "display_name": "Hacked"},
    )
    assert answer.status_code in (403, 404)

    me = site.signed_in(alice)
    answer = me.post("/members/alice/edit", data={"csrf_token": "forged", "display_name": "X"})
    assert answer.status_code == 403
    assert site.anonymous().get("/api/v1/members/alice").json()["display_name"] == "Alice Archivist"

    anonymous = site.anonymous().get("/members/alice/edit", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
