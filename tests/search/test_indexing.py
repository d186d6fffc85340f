"""Indexing through the event log: create, edit, delete, move between statuses."""

from tests.search.helpers import community, ids, reply, search, thread


def test_threads_posts_members_and_communities_are_found(site, admin, alice, bob):
    owner = site.signed_in(admin)
    (a, b) = community(site, owner, "cataloging", alice, bob, description="Metadata people")
    t = thread(a, "cataloging", "Linked data workflows", "We moved our records to BIBFRAME.")
    r = reply(b, t["id"], "Our library still uses MARC records for serials.")
    site.drain()
    anyone = site.anonymous()
    found = search(anyone, "bibframe")
    assert [(i["type"], i["id"]) for i in found["items"]] == [("thread", t["id"])]
    item = found["items"][0]
    assert item["url"] == f"/threads/{t['id']}"
    assert item["community"] == "cataloging"
    assert item["author"] == "alice"
    assert "<mark>BIBFRAME</mark>" in item["snippet"]
    assert ids(search(anyone, "serials"), "post") == {r["id"]}
    assert ids(search(anyone, "record"), "thread") == {t["id"]}  # stemming: records
    assert ids(search(anyone, "archivist"), "member") == {alice.id}  # display name
    assert ids(search(anyone, "metadata"), "community")
