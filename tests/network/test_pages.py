"""My network and the profile buttons: the same flows as the API, through CSRF forms."""

from tests.conftest import csrf_from
from tests.network.conftest import connect, usernames


def press(client, action: str, page: str = "/network", **fields):
    """Submit one of the page's forms (its CSRF token taken from the page)."""
    token = csrf_from(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **fields}, follow_redirects=False)


def section(html: str, heading: str) -> str:
    return html.split(heading, 1)[1].split("</section>", 1)[0]


def contacts(site, member, status="accepted") -> list[str]:
    return usernames(site.bearer(member).get(f"/api/v1/me/contacts?status={status}"))


def test_my_network_needs_sign_in(site):
    answer = site.anonymous().get("/network", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/network"


def test_connect_from_a_profile_with_a_note_and_accept_on_my_network(site, alice, bob):
    a, b = site.signed_in(alice), site.signed_in(bob)
    profile = a.get("/members/bob").text
    assert 'action="/network/contacts/bob/request"' in profile
    assert 'action="/network/blocks/bob"' in profile
    answer = press(
        a, "/network/contacts/bob/request", "/members/bob", note="Hello!", next="/members/bob"
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/members/bob"
    page = a.get("/members/bob").text
    assert "Your request is sent to Bob Bibliographer." in page
    assert "Request sent" in page and 'action="/network/contacts/bob/remove"' in page
    assert 'action="/network/contacts/bob/request"' not in page

    mine = b.get("/network").text
    incoming = section(mine, "Requests to you")
    assert "Alice Archivist" in incoming and "Hello!" in incoming
    for verb in ("accept", "remove", "ignore"):
        assert f'action="/network/contacts/alice/{verb}"' in incoming
    answer = press(b, "/network/contacts/alice/accept")
    assert answer.status_code == 303 and answer.headers["location"] == "/network"
    page = b.get("/network").text
    assert "You and Alice Archivist are now contacts." in page
    assert "Alice Archivist" in section(page, "Contacts (1)")
    assert contacts(site, alice) == ["bob"]
    # On the profile: a contact badge and a Remove button, no Connect.
    profile = a.get("/members/bob").text
    assert ">Contact<" in profile and 'action="/network/contacts/bob/remove"' in profile


def test_decline_ignore_cancel_and_remove_by_form(site, alice, bob, carol):
    a, b, c = site.signed_in(alice), site.signed_in(bob), site.signed_in(carol)
    press(a, "/network/contacts/bob/request", "/members/bob")
    press(c, "/network/contacts/bob/request", "/members/bob")
    press(b, "/network/contacts/alice/remove")  # decline
    assert "You declined the request from Alice Archivist." in b.get("/network").text
    press(b, "/network/contacts/carol/ignore")
    assert contacts(site, bob, "incoming") == [] and contacts(site, carol, "outgoing") == ["bob"]
    assert "Carol" not in section(b.get("/network").text, "Requests to you")
    assert "Bob Bibliographer" in section(c.get("/network").text, "Requests you sent")
    press(c, "/network/contacts/bob/remove")  # cancel
    assert contacts(site, carol, "outgoing") == []
    connect(site, alice, carol)
    press(a, "/network/contacts/carol/remove")  # remove
    assert contacts(site, alice) == [] and contacts(site, carol) == []


def test_forms_need_their_csrf_token_and_never_redirect_off_site(site, alice, bob):
    a = site.signed_in(alice)
    answer = a.post("/network/contacts/bob/request", data={"note": "x"}, follow_redirects=False)
    assert answer.status_code == 403
    assert contacts(site, bob, "incoming") == []
    answer = press(a, "/network/contacts/bob/request", next="https://evil.example/")
    assert answer.headers["location"] == "/"
    answer = press(a, "/network/contacts/bob/remove", next="//evil.example/")
    assert answer.headers["location"] == "/"


def test_form_errors_are_pages_with_the_right_status(site, alice, bob):
    a = site.signed_in(alice)
    answer = press(a, "/network/contacts/alice/request")
    assert answer.status_code == 422 and "cannot connect with yourself" in answer.text
    answer = press(a, "/network/contacts/bob/request", note="x" * 501)
    assert answer.status_code == 422
    answer = press(a, "/network/contacts/nobody/request")
    assert answer.status_code == 404
    answer = press(a, "/network/contacts/bob/accept")
    assert answer.status_code == 404
    assert contacts(site, bob, "incoming") == []


def test_block_and_unblock_by_form(site, alice, bob):
    connect(site, alice, bob)
    a = site.signed_in(alice)
    answer = press(a, "/network/blocks/bob", "/members/bob", next="/members/bob")
    assert answer.headers["location"] == "/members/bob"
    profile = a.get("/members/bob").text
    assert "You blocked Bob Bibliographer" in profile
    assert 'action="/network/blocks/bob/remove"' in profile
    assert 'action="/network/contacts/bob/request"' not in profile
    assert contacts(site, alice) == []
    assert "Bob Bibliographer" in section(a.get("/network").text, "Blocked members (1)")
    press(a, "/network/blocks/bob/remove")
    assert "Blocked members (0)" in a.get("/network").text
    assert 'action="/network/contacts/bob/request"' in a.get("/members/bob").text


def test_no_buttons_on_ones_own_profile_or_for_visitors(site, alice):
    own = site.signed_in(alice).get("/members/alice").text
    assert "/network/contacts/" not in own and "/network/blocks/" not in own
    visitor = site.anonymous().get("/members/alice").text
    assert "/network/contacts/" not in visitor and "/network/blocks/" not in visitor


def test_header_links_to_my_network(site, alice):
    assert 'href="/network"' in site.signed_in(alice).get("/").text
    assert 'href="/network"' not in site.anonymous().get("/members").text
