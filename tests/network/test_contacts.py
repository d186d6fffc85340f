"""Asking to connect, accepting, declining, ignoring, cancelling and removing, over the API."""

import pytest

from tests.network.conftest import refused, usernames


def lists(client) -> dict[str, list[str]]:
    return {
        status: usernames(client.get(f"/api/v1/me/contacts?status={status}"))
        for status in ("accepted", "incoming", "outgoing")
    }


def test_request_then_accept(site, alice, bob):
    a, b = site.signed_in(alice), site.bearer(bob)
    answer = a.post("/api/v1/members/bob/contact", json={"note": "We met at the conference."})
    assert answer.status_code == 201
    assert answer.json() == {"status": "pending"}
    assert lists(a) == {"accepted": [], "incoming": [], "outgoing": ["bob"]}
    assert lists(b) == {"accepted": [], "incoming": ["alice"], "outgoing": []}
    incoming = b.get("/api/v1/me/contacts?status=incoming").json()["items"][0]
    assert incoming["note"] == "We met at the conference."
    assert incoming["status"] == "incoming"
    assert incoming["member"]["display_name"] == "Alice Archivist"

    answer = b.put("/api/v1/me/contacts/alice", json={"status": "accepted"})
    assert answer.status_code == 200
    assert answer.json()["status"] == "accepted" and answer.json()["accepted_at"]
    assert lists(a)["accepted"] == ["bob"] and lists(b)["accepted"] == ["alice"]
    assert lists(a)["outgoing"] == [] and lists(b)["incoming"] == []
    # Accepting again changes nothing; asking again is a conflict.
    assert b.put("/api/v1/me/contacts/alice", json={"status": "accepted"}).status_code == 200
    refused(a.post("/api/v1/members/bob/contact"), 409, "conflict")
    refused(b.post("/api/v1/members/alice/contact"), 409, "conflict")


def test_asking_someone_who_asked_you_accepts(site, alice, bob):
    a, b = site.bearer(alice), site.bearer(bob)
    assert a.post("/api/v1/members/bob/contact").json() == {"status": "pending"}
    answer = b.post("/api/v1/members/alice/contact")
    assert answer.status_code == 201
    assert answer.json() == {"status": "accepted"}
    assert lists(a)["accepted"] == ["bob"]


def test_asking_twice_is_a_conflict(site, alice, bob):
    a = site.bearer(alice)
    assert a.post("/api/v1/members/bob/contact").status_code == 201
    refused(a.post("/api/v1/members/bob/contact"), 409, "conflict")
    assert lists(site.bearer(bob))["incoming"] == ["alice"]


def test_decline_deletes_the_request_and_allows_asking_again(site, alice, bob):
    a, b = site.bearer(alice), site.bearer(bob)
    a.post("/api/v1/members/bob/contact")
    assert b.delete("/api/v1/me/contacts/alice").status_code == 204
    assert lists(a) == {"accepted": [], "incoming": [], "outgoing": []}
    assert lists(b) == {"accepted": [], "incoming": [], "outgoing": []}
    refused(b.delete("/api/v1/me/contacts/alice"), 404, "not_found")
    assert a.post("/api/v1/members/bob/contact").json() == {"status": "pending"}


def test_ignore_hides_it_from_the_addressee_only(site, alice, bob):
    a, b = site.bearer(alice), site.bearer(bob)
    a.post("/api/v1/members/bob/contact")
    answer = b.put("/api/v1/me/contacts/alice", json={"status": "ignored"})
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert lists(b)["incoming"] == []
    # The asker cannot tell: still pending, and asking again is still a conflict.
    outgoing = a.get("/api/v1/me/contacts?status=outgoing").json()["items"]
    assert [(o["member"]["username"], o["status"]) for o in outgoing] == [("bob", "outgoing")]
    refused(a.post("/api/v1/members/bob/contact"), 409)
    # The addressee may still accept later, by either route.
    assert b.post("/api/v1/members/alice/contact").json() == {"status": "accepted"}
    assert lists(a)["accepted"] == ["bob"]


def test_cancel_and_remove(site, alice, bob, carol):
    a = site.bearer(alice)
    a.post("/api/v1/members/bob/contact")
    assert a.delete("/api/v1/me/contacts/bob").status_code == 204  # cancel
    assert lists(site.bearer(bob))["incoming"] == []

    a.post("/api/v1/members/carol/contact")
    c = site.bearer(carol)
    c.put("/api/v1/me/contacts/alice", json={"status": "accepted"})
    assert c.delete("/api/v1/me/contacts/alice").status_code == 204  # either side removes
    assert lists(a)["accepted"] == [] and lists(c)["accepted"] == []


def test_cannot_accept_ones_own_request_or_a_missing_one(site, alice, bob):
    a = site.bearer(alice)
    a.post("/api/v1/members/bob/contact")
    refused(a.put("/api/v1/me/contacts/bob", json={"status": "accepted"}), 404, "not_found")
    refused(a.put("/api/v1/me/contacts/carol", json={"status": "accepted"}), 404, "not_found")
    assert lists(a)["outgoing"] == ["bob"]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.post("/api/v1/members/alice/contact"),  # oneself
        lambda c: c.post("/api/v1/members/bob/contact", json={"note": "x" * 501}),
        lambda c: c.post("/api/v1/members/bob/contact", json={"note": 12}),
        lambda c: c.post("/api/v1/members/bob/contact", json={"message": "hi"}),
        lambda c: c.put("/api/v1/me/contacts/bob", json={"status": "friends"}),
        lambda c: c.put("/api/v1/me/contacts/bob", json={}),
        lambda c: c.get("/api/v1/me/contacts?status=everyone"),
    ],
)
def test_bad_input_is_422_and_changes_nothing(site, alice, bob, call):
    a = site.bearer(alice)
    site.bearer(bob).post("/api/v1/members/alice/contact")
    refused(call(a), 422, "invalid")
    assert lists(a) == {"accepted": [], "incoming": ["bob"], "outgoing": []}


def test_malformed_bodies_and_unknown_members(site, alice, bob):
    a = site.bearer(alice)
    answer = a.post(
        "/api/v1/members/bob/contact",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    refused(answer, 400, "invalid_json")
    refused(a.post("/api/v1/members/bob/contact", data={"note": "form"}), 400)
    refused(a.put("/api/v1/me/contacts/bob", content=b"[]"), 400)
    refused(a.post("/api/v1/members/nobody/contact"), 404, "not_found")
    refused(a.delete("/api/v1/me/contacts/nobody"), 404, "not_found")
    assert lists(a) == {"accepted": [], "incoming": [], "outgoing": []}


def test_needs_sign_in_and_csrf(site, alice, bob):
    anonymous = site.anonymous()
    refused(anonymous.post("/api/v1/members/bob/contact"), 401, "not_signed_in")
    refused(anonymous.get("/api/v1/me/contacts"), 401, "not_signed_in")
    refused(anonymous.get("/api/v1/feed"), 401, "not_signed_in")
    a = site.signed_in(alice)
    del a.headers["X-CSRF-Token"]
    refused(a.post("/api/v1/members/bob/contact"), 403, "csrf_failed")
    assert lists(site.bearer(bob))["incoming"] == []


def test_events_go_to_the_addressee_and_become_notifications(site, alice, bob):
    a, b = site.bearer(alice), site.bearer(bob)
    a.post("/api/v1/members/bob/contact", json={"note": "Hello from the archive"})
    site.drain()
    notes = b.get("/api/v1/notifications").json()["items"]
    assert [(n["kind"], n["title"], n["url"]) for n in notes] == [
        ("contact", "Alice Archivist asked to connect with you", "/network")
    ]
    assert notes[0]["excerpt"] == "Hello from the archive"
    b.put("/api/v1/me/contacts/alice", json={"status": "accepted"})
    site.drain()
    notes = a.get("/api/v1/notifications").json()["items"]
    assert [(n["kind"], n["title"]) for n in notes] == [
        ("contact", "Bob Bibliographer accepted your contact request")
    ]


def test_a_request_answered_before_the_notifier_runs_is_not_announced(site, alice, bob):
    a, b = site.bearer(alice), site.bearer(bob)
    a.post("/api/v1/members/bob/contact")
    a.delete("/api/v1/me/contacts/bob")
    site.drain()
    assert b.get("/api/v1/notifications").json()["items"] == []
