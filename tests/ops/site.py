"""A seeded site for the operations tests: an app, an admin, communities, threads, files."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field

from PIL import Image

from connect.accounts import service as accounts
from connect.app import create_app
from connect.db import Database
from tests.conftest import fast_passwords

ADMIN_PASSWORD = "a long and unusual password"
COMMUNITIES = (("cataloging", "open"), ("council", "closed"), ("secret-room", "private"))


@dataclass
class Seeded:
    token: str
    admin_id: int
    communities: list[str] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    posts: list[int] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)
    files: list[int] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


def make_app(settings):
    app = create_app(settings)
    app.state.ctx.passwords = fast_passwords()
    return app


def create_admin(app, username: str = "root") -> int:
    """The first administrator, written before the app starts (as `connect create-admin`)."""
    context = app.state.ctx

    async def run() -> int:
        context.db = Database(context.settings.database_url)
        try:
            user = await accounts.register(
                context,
                username=username,
                email=f"{username}@example.org",
                password=ADMIN_PASSWORD,
                display_name="Site Admin",
                site_role="admin",
            )
            return user.id
        finally:
            await context.db.dispose()
            context.db = None

    return asyncio.run(run())


def png(size: int = 32, colour=(200, 30, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def seed(client, admin_id: int, *, members: int = 3, threads: int = 3) -> Seeded:
    """Fill a running site through its API; `client` is any requests- or httpx-style client."""

    def ok(answer, status=(200, 201)):
        assert answer.status_code in status, (answer.status_code, answer.text)
        return answer.json() if answer.content else None

    token = ok(
        client.post("/api/v1/auth/token", json={"login": "root", "password": ADMIN_PASSWORD})
    )
    auth = {"Authorization": f"Bearer {token['token']}"}
    seeded = Seeded(token=token["token"], admin_id=admin_id)
    for n in range(members):
        name = f"member{n}"
        ok(
            client.post(
                "/api/v1/auth/register",
                json={
                    "username": name,
                    "email": f"{name}@example.org",
                    "password": ADMIN_PASSWORD,
                    "display_name": f"Member {n}",
                },
            )
        )
        seeded.members.append(name)
    ok(
        client.put(
            "/api/v1/members/root/avatar",
            files={"avatar": ("me.png", png(), "image/png")},
            headers=auth,
        )
    )
    for slug, visibility in COMMUNITIES:
        ok(
            client.post(
                "/api/v1/communities",
                json={"slug": slug, "name": slug.title(), "visibility": visibility},
                headers=auth,
            )
        )
        seeded.communities.append(slug)
        for member in seeded.members[:2]:
            ok(
                client.put(
                    f"/api/v1/communities/{slug}/members/{member}",
                    json={"role": "member"},
                    headers=auth,
                )
            )
        for t in range(threads):
            thread = ok(
                client.post(
                    f"/api/v1/communities/{slug}/threads",
                    json={
                        "title": f"Thread {t} in {slug}",
                        "body": f"First post about **{slug}**.",
                    },
                    headers=auth,
                )
            )
            seeded.threads.append(thread["id"])
            seeded.posts.append(thread["first_post_id"])
            post = ok(
                client.post(
                    f"/api/v1/threads/{thread['id']}/posts",
                    json={"body": "A reply with a [link](https://example.org).", "reply_to": None},
                    headers=auth,
                )
            )
            seeded.posts.append(post["id"])
        entry = ok(
            client.post(
                f"/api/v1/communities/{slug}/library/entries",
                files={
                    "file": (
                        "notes.txt",
                        f"Minutes of the {slug} meeting.\n".encode(),
                        "text/plain",
                    )
                },
                data={"title": f"Minutes {slug}", "tags": "minutes, meetings"},
                headers=auth,
            )
        )
        seeded.entries.append(entry["id"])
        seeded.files.extend(f["id"] for f in entry["files"])
        ok(
            client.post(
                f"/api/v1/communities/{slug}/library/folders",
                json={"name": "Reports"},
                headers=auth,
            )
        )
    return seeded
