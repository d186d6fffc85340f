"""Who may do what: roles × moderation actions × their own community or another one, over
the JSON API and the HTML forms. Exactly the intended cells are allowed; a refused attempt
changes nothing; a community moderator never acts in a community they do not moderate."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from tests.conftest import csrf_from

ROLES = [
    "anonymous",
    "nonmember",
    "member",
    "approval",  # a member whose posts need approval there
    "banned",
    "suspended",
    "moderator",
    "owner",
    "sitemod",
    "admin",
]
STAFF = {"sitemod", "admin"}
COMMUNITY_MODERATORS = {"moderator", "owner"}
MODERATION = [
    "queue",
    "log",
    "approve",
    "reject",
    "join",
    "hide",
    "restore",
    "edit",
    "delete",
    "lock",
    "pin",
    "move",
    "merge",
    "split",
    "ban",
    "require_approval",
    "flag_bar",
    "lift",
]


def expected(role: str, action: str, where: str) -> bool:
    """The intended matrix."""
    own = where == "own"
    if action == "suspend":
        return role in STAFF
    if action == "settings":  # visibility and limits: not site moderators (api.md)
        return role == "admin" or (own and role in COMMUNITY_MODERATORS)
    if action == "flag":
        readers = {"member", "approval", "moderator", "owner"}
        return role in STAFF or (own and role in readers)
    if action in MODERATION:
        return role in STAFF or (own and role in COMMUNITY_MODERATORS)
    raise AssertionError(action)


@dataclass
class World:
    site: object
    root: object  # owner of every community (the site's first admin)
    clients: dict
    writer: object  # publishes in every community
    newbie: object  # everything they post is held
    target: object  # a member the sanctions are tried on
    fresh: itertools.count = field(default_factory=itertools.count)


@pytest.fixture
def world(site, admin) -> World:
    root = site.signed_in(admin)
    for slug in ("own", "other", "spare"):
        site.community(root, slug, visibility="closed")

    def add(member, slug, role="member"):
        answer = root.put(
            f"/api/v1/communities/{slug}/members/{member.username}", json={"role": role}
        )
        assert answer.status_code == 200, answer.text

    writer, newbie, target = (site.member(n) for n in ("writer", "newbie", "target"))
    for slug in ("own", "other", "spare"):
        for m in (writer, newbie, target):
            add(m, slug)
    mod = site.signed_in(site.member("sitemod", role="moderator"))
    assert (
        mod.post(
            "/api/v1/members/newbie/sanctions", json={"kind": "require_approval", "reason": "New"}
        ).status_code
        == 201
    )
    people = {name: site.member(name) for name in ROLES if name not in ("anonymous", "sitemod")}
    people["admin"] = site.member("boss", role="admin")
    for name in ("member", "approval", "banned", "suspended"):
        add(people[name], "own")
    for name in ("moderator", "owner"):
        add(people[name], "own", name)
        add(people[name], "spare", name)
    for kind, name in (("require_approval", "approval"), ("ban", "banned")):
        body = {"username": name, "kind": kind, "reason": "Matrix"}
        assert root.post("/api/v1/communities/own/sanctions", json=body).status_code == 201
    clients = {name: site.signed_in(m) for name, m in people.items()}
    clients["anonymous"] = site.anonymous()
    clients["sitemod"] = mod
    suspend = {"reason": "Matrix", "until": "2999-01-01"}
    assert root.post("/api/v1/members/suspended/suspend", json=suspend).status_code == 201
    return World(site, root, clients, site.signed_in(writer), site.signed_in(newbie), target)


# Things to act on, made fresh for each cell ---------------------------------------------


def thread(w: World, slug: str, *, by=None) -> dict:
    answer = (by or w.writer).post(
        f"/api/v1/communities/{slug}/threads", json={"title": f"T{next(w.fresh)}", "body": "Words"}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def post(w: World, slug: str, *, by=None) -> dict:
    t = thread(w, slug)
    answer = (by or w.writer).post(f"/api/v1/threads/{t['id']}/posts", json={"body": "Reply"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def get(w: World, url: str):
    return w.root.get(url)


def sanction_ids(w: World, slug: str, kind: str) -> set[int]:
    items = get(w, f"/api/v1/communities/{slug}/sanctions").json()["items"]
    return {s["id"] for s in items if s["kind"] == kind and s["username"] == "target"}


def lift_all(w: World, slug: str) -> None:
    for s in get(w, f"/api/v1/communities/{slug}/sanctions").json()["items"]:
        if s["username"] == "target":
            w.root.post(f"/api/v1/moderation/sanctions/{s['id']}/lift", json={})


@dataclass
class Action:
    """prepare(w, slug) -> state; api(client, state, slug); html(client, token, state, slug);
    done(w, state, slug) -> whether the effect happened."""

    prepare: object
    api: object
    html: object
    done: object


def _post_status(w, state):
    answer = get(w, f"/api/v1/posts/{state['id']}")
    return answer.json()["status"] if answer.status_code == 200 else None


def _thread_json(w, state):
    answer = get(w, f"/api/v1/threads/{state['id']}")
    return answer.json()["thread"] if answer.status_code == 200 else None


def _hidden_post(w, slug):
    p = post(w, slug)
    assert w.root.post(f"/api/v1/posts/{p['id']}/hide", json={}).status_code == 200
    return p


def _join_request(w, slug):
    member = w.site.member(f"joiner{next(w.fresh)}")
    assert (
        w.site.signed_in(member).post(f"/api/v1/communities/{slug}/join").json()["status"]
        == "pending"
    )
    items = get(w, "/api/v1/moderation/queue?kind=join").json()["items"]
    return next(i for i in items if i["author"]["username"] == member.username)


def _members(w, slug):
    return {m["username"] for m in get(w, f"/api/v1/communities/{slug}/members").json()["items"]}


def _ban_target(w, slug):
    lift_all(w, slug)
    body = {"username": "target", "kind": "ban", "reason": "Lift me"}
    return w.root.post(f"/api/v1/communities/{slug}/sanctions", json=body).json()


def _two_threads(w, slug):
    return {"source": thread(w, slug), "into": thread(w, slug)}


def _sanction(kind):
    def prepare(w, slug):
        lift_all(w, slug)
        return {}

    def api(c, s, slug):
        body = {"username": "target", "kind": kind, "reason": "Matrix", "until": "2999-01-01"}
        return c.post(f"/api/v1/communities/{slug}/sanctions", json=body)

    def html(c, t, s, slug):
        data = {"csrf_token": t, "username": "target", "kind": kind, "reason": "Matrix"}
        return c.post(f"/c/{slug}/sanctions", data=data)

    return Action(prepare, api, html, lambda w, s, slug: bool(sanction_ids(w, slug, kind)))


ACTIONS = {
    "queue": Action(
        lambda w, slug: {},
        lambda c, s, slug: c.get(f"/api/v1/moderation/queue?community={slug}"),
        lambda c, t, s, slug: c.get(f"/moderation?community={slug}"),
        None,
    ),
    "log": Action(
        lambda w, slug: {},
        lambda c, s, slug: c.get(f"/api/v1/moderation/log?community={slug}"),
        lambda c, t, s, slug: c.get(f"/moderation/log?community={slug}"),
        None,
    ),
    "approve": Action(
        lambda w, slug: post(w, slug, by=w.newbie),
        lambda c, s, slug: c.post(f"/api/v1/moderation/items/post/{s['id']}/approve", json={}),
        lambda c, t, s, slug: c.post(
            f"/moderation/items/post/{s['id']}/approve", data={"csrf_token": t}
        ),
        lambda w, s, slug: _post_status(w, s) == "published",
    ),
    "reject": Action(
        lambda w, slug: post(w, slug, by=w.newbie),
        lambda c, s, slug: c.post(
            f"/api/v1/moderation/items/post/{s['id']}/reject", json={"reason": "No"}
        ),
        lambda c, t, s, slug: c.post(
            f"/moderation/items/post/{s['id']}/reject", data={"csrf_token": t, "reason": "No"}
        ),
        lambda w, s, slug: _post_status(w, s) is None,
    ),
    "join": Action(
        _join_request,
        lambda c, s, slug: c.post(f"/api/v1/moderation/items/join/{s['id']}/approve", json={}),
        lambda c, t, s, slug: c.post(
            f"/moderation/items/join/{s['id']}/approve", data={"csrf_token": t}
        ),
        lambda w, s, slug: s["author"]["username"] in _members(w, slug),
    ),
    "hide": Action(
        lambda w, slug: post(w, slug),
        lambda c, s, slug: c.post(f"/api/v1/posts/{s['id']}/hide", json={"reason": "x"}),
        lambda c, t, s, slug: c.post(f"/posts/{s['id']}/hide", data={"csrf_token": t}),
        lambda w, s, slug: _post_status(w, s) == "hidden",
    ),
    "restore": Action(
        _hidden_post,
        lambda c, s, slug: c.post(f"/api/v1/posts/{s['id']}/restore", json={}),
        lambda c, t, s, slug: c.post(f"/posts/{s['id']}/restore", data={"csrf_token": t}),
        lambda w, s, slug: _post_status(w, s) == "published",
    ),
    "edit": Action(
        lambda w, slug: post(w, slug),
        lambda c, s, slug: c.patch(f"/api/v1/posts/{s['id']}", json={"body": "Changed"}),
        lambda c, t, s, slug: c.post(
            f"/posts/{s['id']}/edit", data={"csrf_token": t, "body": "Changed"}
        ),
        lambda w, s, slug: get(w, f"/api/v1/posts/{s['id']}").json()["body"] == "Changed",
    ),
    "delete": Action(
        lambda w, slug: post(w, slug),
        lambda c, s, slug: c.delete(f"/api/v1/posts/{s['id']}"),
        lambda c, t, s, slug: c.post(f"/posts/{s['id']}/delete", data={"csrf_token": t}),
        lambda w, s, slug: _post_status(w, s) in (None, "deleted"),
    ),
    "lock": Action(
        lambda w, slug: thread(w, slug),
        lambda c, s, slug: c.patch(f"/api/v1/threads/{s['id']}", json={"locked": True}),
        lambda c, t, s, slug: c.post(
            f"/threads/{s['id']}/settings", data={"csrf_token": t, "locked": "1"}
        ),
        lambda w, s, slug: _thread_json(w, s)["locked"],
    ),
    "pin": Action(
        lambda w, slug: thread(w, slug),
        lambda c, s, slug: c.patch(f"/api/v1/threads/{s['id']}", json={"pinned": True}),
        lambda c, t, s, slug: c.post(
            f"/threads/{s['id']}/settings", data={"csrf_token": t, "pinned": "1"}
        ),
        lambda w, s, slug: _thread_json(w, s)["pinned"],
    ),
    "move": Action(
        lambda w, slug: thread(w, slug),
        lambda c, s, slug: c.post(f"/api/v1/threads/{s['id']}/move", json={"community": "spare"}),
        lambda c, t, s, slug: c.post(
            f"/threads/{s['id']}/move", data={"csrf_token": t, "community": "spare"}
        ),
        lambda w, s, slug: _thread_json(w, s)["community"] == "spare",
    ),
    "merge": Action(
        _two_threads,
        lambda c, s, slug: c.post(
            f"/api/v1/threads/{s['source']['id']}/merge", json={"into": s["into"]["id"]}
        ),
        lambda c, t, s, slug: c.post(
            f"/threads/{s['source']['id']}/merge",
            data={"csrf_token": t, "into": str(s["into"]["id"])},
        ),
        lambda w, s, slug: _thread_json(w, s["source"]) is None,
    ),
    "split": Action(
        lambda w, slug: post(w, slug),
        lambda c, s, slug: c.post(
            f"/api/v1/threads/{s['thread_id']}/split",
            json={"post_ids": [s["id"]], "title": "Split"},
        ),
        lambda c, t, s, slug: c.post(
            f"/threads/{s['thread_id']}/split",
            data={"csrf_token": t, "post_id": str(s["id"]), "title": "Split"},
        ),
        lambda w, s, slug: get(w, f"/api/v1/posts/{s['id']}").json()["thread_id"] != s["thread_id"],
    ),
    "ban": _sanction("ban"),
    "require_approval": _sanction("require_approval"),
    "flag_bar": _sanction("flag_bar"),
    "lift": Action(
        _ban_target,
        lambda c, s, slug: c.post(f"/api/v1/moderation/sanctions/{s['id']}/lift", json={}),
        lambda c, t, s, slug: c.post(
            f"/moderation/sanctions/{s['id']}/lift", data={"csrf_token": t}
        ),
        lambda w, s, slug: s["id"] not in sanction_ids(w, slug, "ban"),
    ),
    "flag": Action(
        lambda w, slug: post(w, slug),
        lambda c, s, slug: c.post(f"/api/v1/posts/{s['id']}/flags", json={"reason": "spam"}),
        lambda c, t, s, slug: c.post(
            f"/posts/{s['id']}/flag", data={"csrf_token": t, "reason": "spam"}
        ),
        lambda w, s, slug: (
            s["id"]
            in {i["id"] for i in get(w, "/api/v1/moderation/queue?kind=flagged").json()["items"]}
        ),
    ),
    "suspend": Action(
        lambda w, slug: w.root.delete("/api/v1/members/target/suspension") and {},
        lambda c, s, slug: c.post(
            "/api/v1/members/target/suspend", json={"reason": "x", "until": "2999-01-01"}
        ),
        lambda c, t, s, slug: c.post(
            "/moderation/sanctions",
            data={
                "csrf_token": t,
                "username": "target",
                "kind": "suspension",
                "reason": "x",
                "until": "2999-01-01",
            },
        ),
        lambda w, s, slug: any(
            i["username"] == "target" and i["kind"] == "suspension"
            for i in get(w, "/api/v1/moderation/sanctions").json()["items"]
        ),
    ),
    "settings": Action(
        lambda w, slug: (
            w.root.patch(f"/api/v1/communities/{slug}", json={"settings": {"flag_threshold": 3}})
            and {}
        ),
        lambda c, s, slug: c.patch(
            f"/api/v1/communities/{slug}", json={"settings": {"flag_threshold": 5}}
        ),
        lambda c, t, s, slug: c.post(
            f"/c/{slug}/settings",
            data={
                "csrf_token": t,
                "name": slug.title(),
                "visibility": "closed",
                "moderation": "none",
                "flag_threshold": "5",
            },
        ),
        lambda w, s, slug: (
            get(w, f"/api/v1/communities/{slug}").json()["settings"]["flag_threshold"] == 5
        ),
    ),
}

DENIED_API = {401, 403, 404}
DENIED_HTML = {401, 403, 404}


def token_for(client) -> str:
    return csrf_from(
        client.get("/login" if not client.cookies.get("connect_session") else "/standing").text
    )


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(world, role):
    client = world.clients[role]
    token = token_for(client)
    wrong = []
    for (name, action), where, via in itertools.product(
        ACTIONS.items(), ("own", "other"), ("api", "html")
    ):
        slug = where
        want = expected(role, name, where)
        state = action.prepare(world, slug)
        if via == "api":
            answer = action.api(client, state, slug)
            allowed = 200 <= answer.status_code < 300
            refused_ok = answer.status_code in DENIED_API
        else:
            answer = action.html(client, token, state, slug)
            location = answer.headers.get("location", "")
            allowed = answer.status_code == 200 or (
                answer.status_code == 303 and not location.startswith("/login")
            )
            if answer.status_code == 200 and answer.history:  # followed a redirect
                allowed = not str(answer.url.path).startswith("/login")
            refused_ok = (
                answer.status_code in DENIED_HTML
                or location.startswith("/login")
                or (answer.history and str(answer.url.path).startswith("/login"))
            )
        happened = allowed if action.done is None else bool(action.done(world, state, slug))
        if want and not (allowed and happened):
            wrong.append(f"{name}/{where}/{via}: refused ({answer.status_code})")
        elif not want and (happened or allowed or not refused_ok):
            wrong.append(f"{name}/{where}/{via}: allowed or odd ({answer.status_code}, {happened})")
        if name == "suspend" and happened:
            world.root.delete("/api/v1/members/target/suspension")
    assert not wrong, f"{role}: " + "; ".join(wrong)
