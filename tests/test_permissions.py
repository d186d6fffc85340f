"""Who may do what to which community: one table, checked over HTTP and against the policy.

Every cell of the table is one case: a role, a kind of community, an action and the status
code the API answers. Private things are 404 to those who may not see them, never 403. The
same table is checked against the pure functions in connect/permissions.py (with in-memory
Viewer objects), so the policy and its HTTP face cannot drift apart.

The HTTP cases share one site, built once for this module: each (role, community kind,
action) cell gets a community of its own, so no case sees another's changes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from connect import permissions
from connect.accounts.models import User
from connect.app import create_app
from connect.communities.models import Community, Membership
from connect.db import make_engine, utcnow
from connect.models import Base
from connect.permissions import Role, Viewer
from connect.settings import Settings
from tests.conftest import BASE_URL, Site, fast_passwords

ROLES = (
    "anonymous",
    "outsider",  # signed in, not in the community
    "member",
    "moderator",  # community moderator
    "owner",  # community owner
    "site_moderator",
    "admin",  # site admin, not in the community
    "suspended",  # a member of the community whose account is suspended
)
RESOURCES = ("open", "closed", "private")
# The community role each role holds in every community of the world.
COMMUNITY_ROLE = {
    "member": "member",
    "moderator": "moderator",
    "owner": "owner",
    "suspended": "member",
}
SITE_ROLE = {"admin": "admin", "site_moderator": "moderator"}

ALL_200 = (200, 200, 200)
ALL_204 = (204, 204, 204)
ALL_401 = (401, 401, 401)
ALL_403 = (403, 403, 403)
OUTSIDER_403 = (403, 403, 404)  # refused where visible, absent where private

# action -> role -> expected status for (open, closed, private)
COMMUNITY_ACTIONS = {
    # GET /api/v1/communities/{slug}
    "see": {
        "anonymous": (200, 200, 404),
        "outsider": (200, 200, 404),
        "member": ALL_200,
        "moderator": ALL_200,
        "owner": ALL_200,
        "site_moderator": ALL_200,
        "admin": ALL_200,
        "suspended": ALL_200,  # still a member; reading is what suspension takes away
    },
    # GET /api/v1/communities/{slug}/members
    "read_members": {
        "anonymous": (200, 403, 404),
        "outsider": (200, 403, 404),
        "member": ALL_200,
        "moderator": ALL_200,
        "owner": ALL_200,
        "site_moderator": ALL_200,
        "admin": ALL_200,
        "suspended": (200, 403, 404),
    },
    # POST /api/v1/communities/{slug}/join (members get 200 {"status": "member"}: no change)
    "join": {
        "anonymous": ALL_401,
        "outsider": (200, 200, 404),
        "member": ALL_200,
        "moderator": ALL_200,
        "owner": ALL_200,
        "site_moderator": (200, 200, 404),
        "admin": (200, 200, 404),
        "suspended": ALL_200,
    },
    # PATCH /api/v1/communities/{slug} {"description": ...}
    "update_settings": {
        "anonymous": ALL_401,
        "outsider": OUTSIDER_403,
        "member": ALL_403,
        "moderator": ALL_200,
        "owner": ALL_200,
        "site_moderator": ALL_403,  # moderates content, not settings
        "admin": ALL_200,
        "suspended": ALL_403,
    },
    # PUT /api/v1/communities/{slug}/members/cand {"role": "member"}: add someone
    "add_member": {
        "anonymous": ALL_401,
        "outsider": OUTSIDER_403,
        "member": ALL_403,
        "moderator": ALL_200,
        "owner": ALL_200,
        "site_moderator": ALL_200,
        "admin": ALL_200,
        "suspended": ALL_403,
    },
    # PUT /api/v1/communities/{slug}/members/tgt {"role": "moderator"}: promote a member
    "make_moderator": {
        "anonymous": ALL_401,
        "outsider": OUTSIDER_403,
        "member": ALL_403,
        "moderator": ALL_403,
        "owner": ALL_200,
        "site_moderator": ALL_403,
        "admin": ALL_200,
        "suspended": ALL_403,
    },
    # DELETE /api/v1/communities/{slug}/members/tgt: remove a plain member (204 when done)
    "remove_member": {
        "anonymous": ALL_401,
        "outsider": OUTSIDER_403,
        "member": ALL_403,
        "moderator": ALL_204,
        "owner": ALL_204,
        "site_moderator": ALL_204,
        "admin": ALL_204,
        "suspended": ALL_403,
    },
    # POST /api/v1/communities/{slug}/archive: owners and site admins, not moderators
    "archive": {
        "anonymous": ALL_401,
        "outsider": OUTSIDER_403,
        "member": ALL_403,
        "moderator": ALL_403,
        "owner": ALL_200,
        "site_moderator": ALL_403,
        "admin": ALL_200,
        "suspended": ALL_403,
    },
    # DELETE /api/v1/communities/{slug}/archive, on a community archived beforehand
    "unarchive": {
        "anonymous": ALL_401,
        "outsider": OUTSIDER_403,
        "member": ALL_403,
        "moderator": ALL_403,
        "owner": ALL_200,
        "site_moderator": ALL_403,
        "admin": ALL_200,
        "suspended": ALL_403,
    },
}
# Site-wide actions: role -> expected status.
SITE_ACTIONS = {
    # POST /api/v1/communities
    "create_community": {
        "anonymous": 401,
        "outsider": 403,
        "member": 403,
        "moderator": 403,
        "owner": 403,
        "site_moderator": 403,
        "admin": 201,
        "suspended": 403,
    },
    # PATCH /api/v1/members/pat {"title": ...}
    "edit_other_profile": {
        "anonymous": 401,
        "outsider": 403,
        "member": 403,
        "moderator": 403,
        "owner": 403,
        "site_moderator": 403,
        "admin": 200,
        "suspended": 403,
    },
}

ROWS = [
    pytest.param(role, resource, action, codes[i], id=f"{action}-{resource}-{role}")
    for action, by_role in COMMUNITY_ACTIONS.items()
    for role, codes in by_role.items()
    for i, resource in enumerate(RESOURCES)
] + [
    pytest.param(role, None, action, code, id=f"{action}-{role}")
    for action, by_role in SITE_ACTIONS.items()
    for role, code in by_role.items()
]


def test_table_is_complete():
    for table in (*COMMUNITY_ACTIONS.values(), *SITE_ACTIONS.values()):
        assert tuple(table) == ROLES
    assert len(ROWS) == len(ROLES) * (3 * len(COMMUNITY_ACTIONS) + len(SITE_ACTIONS))


def slug_for(role: str, resource: str, action: str) -> str:
    slug = f"{resource[0]}-{action}-{role}".replace("_", "-")
    assert len(slug) <= 40
    return slug


# The site ---------------------------------------------------------------------------


USERNAMES = {
    "outsider": "otto",
    "member": "mem",
    "moderator": "moe",
    "owner": "olga",
    "site_moderator": "smod",
    "admin": "ada",
    "suspended": "sue",
}


@dataclass
class World:
    site: Site
    clients: dict[str, TestClient]
    root: TestClient  # a second admin who checks what happened


async def _create_schema(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("permissions")
    url = f"sqlite+aiosqlite:///{tmp / 'connect.db'}"
    asyncio.run(_create_schema(url))
    settings = Settings.from_env(
        {},
        data_dir=tmp / "var",
        database_url=url,
        secret_key="test-secret-key-" + "x" * 32,
        base_url=BASE_URL,
    )
    app = create_app(settings)
    app.state.ctx.passwords = fast_passwords()
    with TestClient(app, base_url=BASE_URL) as client:
        site = Site(app, client)
        root = site.member("root", role="admin")
        members = {
            role: site.member(name, role=SITE_ROLE.get(role, "member"))
            for role, name in USERNAMES.items()
        }
        targets = {name: site.member(name) for name in ("tgt", "cand", "pat")}
        clients = {"anonymous": site.anonymous()}
        clients.update({role: site.signed_in(member) for role, member in members.items()})

        async def build():
            async with site.ctx.db.transaction() as session:
                for action in COMMUNITY_ACTIONS:
                    for role in ROLES:
                        for resource in RESOURCES:
                            community = Community(
                                slug=slug_for(role, resource, action),
                                name=f"{action} {resource} {role}",
                                visibility=resource,
                                created_by_id=root.id,
                                member_count=5,
                                archived_at=utcnow() if action == "unarchive" else None,
                            )
                            session.add(community)
                            await session.flush()
                            holders = [
                                (members[r].id, community_role)
                                for r, community_role in COMMUNITY_ROLE.items()
                            ] + [(targets["tgt"].id, "member")]
                            for user_id, community_role in holders:
                                session.add(
                                    Membership(
                                        community_id=community.id,
                                        user_id=user_id,
                                        role=community_role,
                                        status="active",
                                    )
                                )
                # Suspended after signing in: the session stays, the powers go.
                await session.execute(
                    update(User)
                    .where(User.id == members["suspended"].id)
                    .values(suspended_until=utcnow() + timedelta(days=7))
                )

        site.call(build)
        yield World(site, clients, site.bearer(root))


def perform(client: TestClient, role: str, resource: str | None, action: str):
    if action == "create_community":
        return client.post(
            "/api/v1/communities", json={"slug": f"new-{role}".replace("_", "-"), "name": "New"}
        )
    if action == "edit_other_profile":
        return client.patch("/api/v1/members/pat", json={"title": f"set by {role}"})
    base = f"/api/v1/communities/{slug_for(role, resource, action)}"
    if action == "see":
        return client.get(base)
    if action == "read_members":
        return client.get(f"{base}/members")
    if action == "join":
        return client.post(f"{base}/join")
    if action == "update_settings":
        return client.patch(base, json={"description": f"set by {role}"})
    if action == "add_member":
        return client.put(f"{base}/members/cand", json={"role": "member"})
    if action == "make_moderator":
        return client.put(f"{base}/members/tgt", json={"role": "moderator"})
    if action == "remove_member":
        return client.delete(f"{base}/members/tgt")
    if action == "archive":
        return client.post(f"{base}/archive")
    if action == "unarchive":
        return client.delete(f"{base}/archive")
    raise AssertionError(action)


def effect_happened(root: TestClient, role: str, resource: str | None, action: str) -> bool | None:
    """Whether the action's change is there, as seen by a site admin (None: nothing to see)."""
    if action == "create_community":
        return root.get(f"/api/v1/communities/new-{role}".replace("_", "-")).status_code == 200
    if action == "edit_other_profile":
        return root.get("/api/v1/members/pat").json()["title"] == f"set by {role}"
    base = f"/api/v1/communities/{slug_for(role, resource, action)}"
    if action == "update_settings":
        return root.get(base).json()["description"] == f"set by {role}"
    if action in ("archive", "unarchive"):
        return (root.get(base).json()["archived_at"] is None) == (action == "unarchive")
    members = root.get(f"{base}/members?per_page=100").json()["items"]
    roles = {m["username"]: m["role"] for m in members}
    if action == "add_member":
        return roles.get("cand") == "member"
    if action == "make_moderator":
        return roles.get("tgt") == "moderator"
    if action == "remove_member":
        return "tgt" not in roles
    return None


@pytest.mark.parametrize("role, resource, action, expected", ROWS)
def test_http(world, role, resource, action, expected):
    answer = perform(world.clients[role], role, resource, action)
    assert answer.status_code == expected, answer.text
    if expected >= 400:
        body = answer.json()
        assert set(body) == {"error"} and body["error"]["code"]
        if expected == 404:
            assert body["error"]["code"] == "not_found"
            if resource == "private":
                # Absent, not forbidden: nothing about the community comes back.
                assert slug_for(role, resource, action) not in answer.text
                assert "private" not in answer.text
    elif action == "join":
        assert answer.json()["status"] in ("member", "pending")
    happened = effect_happened(world.root, role, resource, action)
    if happened is not None:
        assert happened == (expected < 300)


# The policy, directly ----------------------------------------------------------------

COMMUNITY_ID = 7
PAT = User(id=99, username="pat", site_role="member", suspended_until=None)


def policy_viewer(role: str, community: Community | None) -> Viewer:
    if role == "anonymous":
        return Viewer()
    user = User(
        id=ROLES.index(role) + 1,
        username=USERNAMES[role],
        site_role=SITE_ROLE.get(role, "member"),
        suspended_until=utcnow() + timedelta(days=7) if role == "suspended" else None,
    )
    memberships = {}
    if community is not None and role in COMMUNITY_ROLE:
        memberships[community.id] = Role(COMMUNITY_ROLE[role], "active")
    return Viewer(user=user, memberships=memberships)


def policy_status(role: str, resource: str | None, action: str) -> int:
    """The status the policy functions imply, mapped as the routes are meant to map them."""
    community = None
    if resource is not None:
        community = Community(id=COMMUNITY_ID, slug="c", name="C", visibility=resource)
    viewer = policy_viewer(role, community)
    needs_sign_in = action not in ("see", "read_members")
    if needs_sign_in and not viewer.signed_in:
        return 401
    if action == "create_community":
        return 201 if permissions.can_create_community(viewer) else 403
    if action == "edit_other_profile":
        return 200 if permissions.can_edit_profile(viewer, PAT) else 403
    if not permissions.can_see_community(viewer, community):
        return 404
    hidden_or_refused = 404 if resource == "private" else 403
    if action == "see":
        return 200
    if action == "read_members":
        return 200 if permissions.can_read_community(viewer, community) else hidden_or_refused
    if action == "join":
        joins = permissions.can_join(viewer, community) or viewer.role_in(community) is not None
        return 200 if joins else hidden_or_refused
    if action == "update_settings":
        allowed = permissions.can_manage(viewer, community)
    elif action == "add_member":
        allowed = permissions.can_set_role(viewer, community, current=None, new="member")
    elif action == "make_moderator":
        allowed = permissions.can_set_role(viewer, community, current="member", new="moderator")
    elif action == "remove_member":
        return 204 if permissions.can_remove_member(viewer, community, role="member") else 403
    elif action in ("archive", "unarchive"):
        allowed = permissions.can_archive(viewer, community)
    else:
        raise AssertionError(action)
    return 200 if allowed else 403


@pytest.mark.parametrize("role, resource, action, expected", ROWS)
def test_policy(role, resource, action, expected):
    assert policy_status(role, resource, action) == expected


@pytest.mark.parametrize("role", ROLES)
def test_directory_clauses_agree_with_can_see_and_can_read(role):
    """The SQL conditions used for listings give the same answers as the per-item checks."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[User.__table__, Community.__table__])
    with Session(engine) as session:
        for i, resource in enumerate(RESOURCES, start=1):
            session.add(Community(id=i, slug=resource, name=resource, visibility=resource))
        session.commit()
        communities = session.execute(select(Community)).scalars().all()
        for community in communities:
            viewer = policy_viewer(role, community)
            visible = session.execute(
                select(Community.id).where(
                    Community.id == community.id, permissions.visible_communities_clause(viewer)
                )
            ).first()
            readable = session.execute(
                select(Community.id).where(
                    Community.id == community.id, permissions.readable_communities_clause(viewer)
                )
            ).first()
            assert bool(visible) == permissions.can_see_community(viewer, community)
            assert bool(readable) == permissions.can_read_community(viewer, community)


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_an_archived_community_is_read_as_before_and_takes_nothing_new(role, resource):
    active = Community(id=COMMUNITY_ID, slug="c", name="C", visibility=resource)
    archived = Community(
        id=COMMUNITY_ID, slug="c", name="C", visibility=resource, archived_at=utcnow()
    )
    viewer = policy_viewer(role, active)
    author = {"author_id": viewer.id}
    # Reading, seeing, moderating and flagging do not change.
    for check in (
        permissions.can_see_community,
        permissions.can_read_community,
        permissions.can_moderate,
        permissions.can_manage,
        permissions.can_archive,
    ):
        assert check(viewer, archived) == check(viewer, active), check.__name__
    assert permissions.can_flag(
        viewer, archived, status="published", author_id=PAT.id
    ) == permissions.can_flag(viewer, active, status="published", author_id=PAT.id)
    # Nothing new: no posts, edits, recommendations, uploads, members or invitations.
    assert not permissions.can_post(viewer, archived)
    assert not permissions.can_reply(viewer, archived, locked=False)
    assert not permissions.can_edit_post(viewer, archived, **author)
    assert not permissions.can_recommend(viewer, archived)
    assert not permissions.can_add_to_library(viewer, archived)
    assert not permissions.can_edit_entry(viewer, archived, **author)
    assert not permissions.can_join(viewer, archived)
    assert not permissions.can_invite(viewer, archived)
    assert not permissions.can_set_role(viewer, archived, current=None, new="member")
    # Roles of members may still change (an owner hands over), as before.
    assert permissions.can_set_role(
        viewer, archived, current="member", new="owner"
    ) == permissions.can_set_role(viewer, active, current="member", new="owner")
    # Moderators still remove posts and documents; authors no longer do.
    moderator = permissions.can_moderate(viewer, active)
    assert permissions.can_delete_post(viewer, archived, **author) == moderator
    assert permissions.can_delete_entry(viewer, archived, **author) == moderator
