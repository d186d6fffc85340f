"""Nothing held is visible to others anywhere before approval; after it, everywhere."""

from sqlalchemy import select

from connect.notifications.models import OutgoingMail
from tests.moderation.helpers import approve, board, reply, start
from tests.search.helpers import ids, search


def mail_subjects(site) -> list[str]:
    async def load():
        async with site.ctx.db.read() as session:
            return list((await session.execute(select(OutgoingMail.subject))).scalars())

    return site.call(load)


def test_held_content_is_hidden_everywhere_until_approved(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob, moderation="all")
    assert (
        b.put("/api/v1/communities/youth/subscription", json={"mode": "real_time"}).status_code
        == 200
    )
    open_thread = start(owner, title="Open door", body="Everyone welcome")
    assert (
        b.put(
            f"/api/v1/threads/{open_thread['id']}/subscription", json={"mode": "real_time"}
        ).status_code
        == 200
    )
    held = start(a, title="Zanzibar heldword", body="zanzibar secretword")
    held_reply = reply(a, open_thread["id"], "quokka replyword")
    site.drain()
    for client in (b, site.anonymous()):
        assert client.get(f"/api/v1/threads/{held['id']}").status_code == 404
        assert client.get(f"/api/v1/posts/{held_reply['id']}").status_code == 404
        assert "heldword" not in client.get("/c/youth").text
        assert "replyword" not in client.get(f"/threads/{open_thread['id']}").text
        assert ids(search(client, "zanzibar")) == set()
        assert ids(search(client, "quokka")) == set()
        assert "heldword" not in client.get("/").text
    assert not any("heldword" in s or "Zanzibar" in s for s in mail_subjects(site))
    # The author and moderators find it (marked as held).
    assert ids(search(owner, "zanzibar")) == {held["id"]}

    approve(owner, "thread", held["id"])
    approve(owner, "post", held_reply["id"])
    site.drain()  # the indexer, the notifier
    for client in (b, site.anonymous()):
        assert client.get(f"/api/v1/threads/{held['id']}").status_code == 200
        assert "heldword" in client.get("/c/youth").text
        assert "replyword" in client.get(f"/threads/{open_thread['id']}").text
        assert ids(search(client, "zanzibar")) == {held["id"]}
        assert ids(search(client, "quokka")) == {held_reply["id"]}
    subjects = mail_subjects(site)
    assert any("Zanzibar heldword" in s for s in subjects)  # board followers
    assert any("Open door" in s for s in subjects)  # thread followers hear of the reply


def test_hidden_and_rejected_content_leaves_search(site, admin, alice, bob):
    owner, (a, b) = board(site, admin, alice, bob)
    post = reply(a, start(owner, title="Open")["id"], "wombat hideword")
    site.drain()
    assert ids(search(b, "wombat")) == {post["id"]}
    assert owner.post(f"/api/v1/posts/{post['id']}/hide", json={}).status_code == 200
    site.drain()
    assert ids(search(b, "wombat")) == set()
    assert ids(search(owner, "wombat")) == {post["id"]}
