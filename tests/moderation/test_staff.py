"""Site staff: administrators appoint site moderators and administrators, in the log."""

from tests.conftest import csrf_from, error_code


def appoint(client, username, role, reason=""):
    return client.put(
        f"/api/v1/members/{username}/site-role", json={"role": role, "reason": reason}
    )


def test_an_administrator_appoints_a_site_moderator_by_the_form(site, admin, alice):
    root, a = site.signed_in(admin), site.signed_in(alice)
    assert a.get("/moderation/sanctions").status_code == 403
    page = root.get("/moderation/staff")
    assert page.status_code == 200 and "Site staff" in page.text
    done = root.post(
        "/moderation/staff",
        data={
            "csrf_token": csrf_from(page.text),
            "username": "alice",
            "role": "moderator",
            "reason": "Runs the conference",
        },
    )
    assert done.status_code == 200 and "is now: site moderator" in done.text
    assert a.get("/moderation/sanctions").status_code == 200  # at once, no new sign-in
    staff = root.get("/api/v1/moderation/staff").json()["items"]
    assert {(p["username"], p["site_role"]) for p in staff} == {
        ("root", "admin"),
        ("alice", "moderator"),
    }
    (row,) = root.get("/api/v1/moderation/log?action=site.role").json()["items"]
    assert row["reason"] == "Runs the conference" and row["target"]["username"] == "alice"
    # And back to a member.
    assert appoint(root, "alice", "member").json()["site_role"] == "member"
    assert a.get("/moderation/sanctions").status_code == 403


def test_only_administrators_appoint_and_bad_input_changes_nothing(site, admin, alice, bob):
    root = site.signed_in(admin)
    assert appoint(root, "alice", "moderator").status_code == 200
    a = site.signed_in(alice)  # a site moderator, not an administrator
    refused = appoint(a, "bob", "moderator")
    assert refused.status_code == 403 and error_code(refused) == "forbidden"
    assert a.get("/moderation/staff").status_code == 403
    assert appoint(site.signed_in(bob), "bob", "admin").status_code == 403
    unknown = appoint(root, "nobody", "moderator")
    assert unknown.status_code == 404
    bad = appoint(root, "bob", "owner")
    assert bad.status_code == 422 and "role" in bad.json()["error"]["fields"]
    page = root.get("/moderation/staff")
    form = root.post(
        "/moderation/staff",
        data={"csrf_token": csrf_from(page.text), "username": "nobody", "role": "admin"},
    )
    assert form.status_code == 404 and 'value="nobody"' in form.text  # kept, with the reason
    assert root.get("/api/v1/members/bob").json()["site_role"] == "member"


def test_the_last_administrator_cannot_step_down(site, admin, alice):
    root = site.signed_in(admin)
    alone = appoint(root, "root", "member")
    assert alone.status_code == 409 and "needs an administrator" in alone.text
    assert root.get("/api/v1/members/root").json()["site_role"] == "admin"
    assert appoint(root, "alice", "admin").status_code == 200
    assert appoint(site.signed_in(alice), "root", "moderator").status_code == 200
    assert root.get("/api/v1/members/root").json()["site_role"] == "moderator"
    assert site.signed_in(admin).get("/moderation/staff").status_code == 403
