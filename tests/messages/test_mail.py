"""Email about private messages, through a real SMTP server: at once, in the daily digest
or not at all, as each member's preference says; one-click unsubscribe; never to a member
who left or who blocked the sender."""

from tests.conftest import BASE_URL
from tests.messages.conftest import deliver
from tests.messages.helpers import block, leave, notifications, start, write


def members(site):
    alice, bob = site.member("alice", display_name="Alice Archivist"), site.member("bob")
    return alice, bob, site.signed_in(alice), site.signed_in(bob)


def test_real_time_mail_with_one_click_unsubscribe(mail_site):
    site, mailbox = mail_site
    alice, bob, a, b = members(site)
    cid = start(a, "bob", "Are you coming to the **zine fair**?", subject="Zine fair")["id"]
    deliver(site)
    (mail,) = mailbox.to("bob@example.org")
    assert mail["Subject"] == "Alice Archivist sent you a message: “Zine fair”"
    text = mail.get_content()
    assert "Are you coming to the zine fair?" in text
    assert f"{BASE_URL}/messages/{cid}" in text
    assert mailbox.to("alice@example.org") == []  # nobody hears about their own message
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"].strip().strip("<>")
    assert link in text
    # One click, no sign-in: message mail stops (replies and mentions are another matter).
    assert site.anonymous().post(link.removeprefix(BASE_URL)).status_code == 200
    preferences = b.get("/api/v1/me/preferences").json()
    assert preferences["email_messages"] == "in_app"
    assert preferences["email_replies"] == "real_time"
    write(a, cid, "Hello again")
    deliver(site)
    assert len(mailbox.to("bob@example.org")) == 1
    # ...and the message still shows in the app.
    assert [n.title for n in notifications(site, bob)][-1].endswith("“Zine fair”")


def test_digest_and_in_app_preferences(mail_site):
    site, mailbox = mail_site
    alice, bob, a, b = members(site)
    carol = site.member("carol")
    c = site.signed_in(carol)
    assert b.patch("/api/v1/me/preferences", json={"email_messages": "digest"}).status_code == 200
    assert c.patch("/api/v1/me/preferences", json={"email_messages": "in_app"}).status_code == 200
    assert c.patch("/api/v1/me/preferences", json={"email_messages": "loud"}).status_code == 422
    cid = start(a, ["bob", "carol"], "First message for the digest")["id"]
    write(a, cid, "Second message for the digest")
    deliver(site)
    assert mailbox.to("bob@example.org") == [] and mailbox.to("carol@example.org") == []
    assert len(notifications(site, carol)) == 2  # in the app only
    deliver(site, digests=True)
    (digest,) = mailbox.to("bob@example.org")
    assert "2 updates" in digest["Subject"]
    assert "First message for the digest" in digest.get_content()
    assert "Second message for the digest" in digest.get_content()
    assert mailbox.to("carol@example.org") == []


def test_preferences_page_offers_message_mail(mail_site):
    site, _ = mail_site
    _, _, a, _ = members(site)
    page = a.get("/settings/notifications")
    assert 'name="email_messages"' in page.text


def test_no_mail_after_leaving_or_blocking(mail_site):
    site, mailbox = mail_site
    alice, bob, a, b = members(site)
    carol = site.member("carol")
    c = site.signed_in(carol)
    for member_client in (b, c):
        member_client.patch("/api/v1/me/preferences", json={"email_messages": "digest"})
    cid = start(a, ["bob", "carol"], "Before anything happened")["id"]
    deliver(site)  # both have a digest item waiting now
    # Carol leaves; Bob blocks Alice. Neither may get Alice's words by mail any more.
    leave(c, cid)
    block(site, bob, alice)
    deliver(site, digests=True)
    assert mailbox.to("carol@example.org") == []
    assert mailbox.to("bob@example.org") == []
    # Real-time mail too: a message written before the block, mailed after it, stays home.
    dave = site.member("dave")
    d = site.signed_in(dave)
    other = start(a, "dave", "Written before the block")["id"]
    block(site, dave, alice)
    deliver(site)
    assert mailbox.to("dave@example.org") == []
    assert d.get(f"/api/v1/conversations/{other}").status_code == 200  # still his to read
