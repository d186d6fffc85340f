"""Privacy settings: who may ask to connect and write, the directory listing, public fields."""

import pytest

from tests.conftest import csrf_from
from tests.network.conftest import community_with, refused, usernames


def test_policies_are_set_through_the_api_and_shown_to_the_member_only(site, alice, bob):
    me = site.signed_in(alice)
    body = me.get("/api/v1/me").json()
    assert (body["contact_policy"], body["message_policy"]) == ("anyone", "anyone")
    answer = me.patch(
        "/api/v1/members/alice",
        json={"contact_policy": "communities", "message_policy": "contacts"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["contact_policy"] == "communities"
    assert me.get("/api/v1/me").json()["message_policy"] == "contacts"
    others = site.bearer(bob).get("/api/v1/members/alice").json()
    assert "contact_policy" not in others and "message_policy" not in others


@pytest.mark.parametrize(
    "change",
    [
        {"contact_policy": "everyone"},
        {"message_policy": None},
        {"contact_policy": ["anyone"]},
        {"contact_policy": "contacts", "message_policy": "friends"},
    ],
)
def test_bad_policies_are_422_and_change_nothing(site, alice, change):
    me = site.bearer(alice)
    answer = me.patch("/api/v1/members/alice", json={**change, "title": "Changed"})
    refused(answer, 422, "invalid")
    bad = [k for k, v in change.items() if v not in ("anyone", "communities", "contacts")]
    assert set(answer.json()["error"]["fields"]) == set(bad)
    body = me.get("/api/v1/me").json()
    assert (body["contact_policy"], body["message_policy"], body["title"]) == (
        "anyone",
        "anyone",
        None,
    )


def test_others_cannot_change_ones_policies(site, alice, bob):
    refused(
        site.bearer(bob).patch("/api/v1/members/alice", json={"contact_policy": "contacts"}), 403
    )
    assert site.bearer(alice).get("/api/v1/me").json()["contact_policy"] == "anyone"


def test_the_edit_page_sets_policies_listing_and_public_fields(site, alice):
    me = site.signed_in(alice)
    page = me.get("/members/alice/edit").text
    assert 'name="contact_policy" value="anyone" checked' in page
    assert 'name="message_policy" value="contacts"' in page
    answer = me.post(
        "/members/alice/edit",
        data={
            "csrf_token": csrf_from(page),
            "display_name": "Alice Archivist",
            "title": "Archivist",
            "public_fields": ["title"],
            "contact_policy": "contacts",
            "message_policy": "communities",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    body = me.get("/api/v1/me").json()
    assert (body["contact_policy"], body["message_policy"]) == ("contacts", "communities")
    assert body["listed"] is False and body["public_fields"] == ["title"]
    again = me.get("/members/alice/edit").text
    assert 'name="contact_policy" value="contacts" checked' in again
    assert 'name="message_policy" value="communities" checked' in again


def test_the_edit_page_refuses_a_bad_policy_and_keeps_the_rest(site, alice):
    me = site.signed_in(alice)
    page = me.get("/members/alice/edit").text
    answer = me.post(
        "/members/alice/edit",
        data={
            "csrf_token": csrf_from(page),
            "display_name": "Alice Kept",
            "contact_policy": "everybody",
            "listed": "on",
        },
    )
    assert answer.status_code == 422
    assert 'id="f-contact_policy-error"' in answer.text
    assert 'value="Alice Kept"' in answer.text
    body = me.get("/api/v1/me").json()
    assert body["display_name"] == "Alice Archivist" and body["contact_policy"] == "anyone"


def test_unlisted_members_leave_the_directory_and_suggestions(site, root, alice, bob, carol):
    community_with(site, root, "cataloging", alice, bob, carol)
    a = site.bearer(alice)
    assert "bob" in usernames(a.get("/api/v1/me/suggestions"))
    site.bearer(bob).patch("/api/v1/members/bob", json={"listed": False})
    anyone = site.anonymous()
    listed = [m["username"] for m in anyone.get("/api/v1/members").json()["items"]]
    assert "bob" not in listed and "carol" in listed
    assert "Bob Bibliographer" not in anyone.get("/members").text
    assert "bob" not in usernames(a.get("/api/v1/me/suggestions"))
    assert "Bob Bibliographer" not in site.signed_in(alice).get("/network").text
    # Unlisted is not unreachable: the profile answers, and asking to connect works.
    assert anyone.get("/members/bob").status_code == 200
    assert a.post("/api/v1/members/bob/contact").status_code == 201


def test_hidden_fields_are_not_matched_for_suggestions_or_the_interest_filter(site, alice, bob):
    site.bearer(alice).patch(
        "/api/v1/members/alice", json={"organization": "State Archives", "interests": "rda"}
    )
    b = site.bearer(bob)
    b.patch(
        "/api/v1/members/bob",
        json={"organization": "State Archives", "interests": "rda", "public_fields": ["title"]},
    )
    assert usernames(site.bearer(alice).get("/api/v1/me/suggestions")) == []
    names = [
        m["username"] for m in site.anonymous().get("/api/v1/members?interest=rda").json()["items"]
    ]
    assert names == ["alice"]
    b.patch("/api/v1/members/bob", json={"public_fields": ["organization", "interests"]})
    found = site.bearer(alice).get("/api/v1/me/suggestions").json()["items"]
    assert [
        (s["member"]["username"], s["same_organization"], s["shared_interests"]) for s in found
    ] == [("bob", True, ["rda"])]
