"""A deleted account: its member document goes, and what it wrote is found without its
name, whether the indexer follows the log or rebuilds."""

from tests.conftest import PASSWORD
from tests.search.helpers import community, reply, search, thread


def test_a_deleted_members_writing_is_found_without_their_name(site, admin, alice, bob):
    owner = site.signed_in(admin)
    (a, b) = community(site, owner, "cataloging", alice, bob)
    started = thread(a, "cataloging", "Serials holdings", "How do you record gaps?")
    note = reply(b, started["id"], "With a note.")
    thanks = reply(a, started["id"], "Thanks")
    site.drain()
    anyone = site.anonymous()
    assert {i["author"] for i in search(anyone, author="alice")["items"]} == {"alice"}

    deleted = site.bearer(alice).request("DELETE", "/api/v1/me", json={"password": PASSWORD})
    assert deleted.status_code == 204
    for rebuilt in (False, True):
        if rebuilt:
            site.call(site.ctx.search.indexer.rebuild)
        else:
            site.drain()
        assert search(anyone, "archivist")["total"] == 0  # no member document
        assert search(anyone, author="alice")["total"] == 0
        assert search(anyone, author=f"deleted-{alice.id}")["total"] == 0
        hits = {
            (i["type"], i["id"]): i["author"]
            for q in ("gaps", "thanks", "note")
            for i in search(anyone, q)["items"]
        }
        assert hits == {
            ("thread", started["id"]): None,
            ("post", thanks["id"]): None,
            ("post", note["id"]): "bob",
        }, rebuilt
