"""GET /healthz says the process answers; GET /readyz says it can serve, or why not (503)."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command

from connect import migrate
from connect.db import Database
from tests.conftest import _create_sqlite
from tests.notifications.test_mail_queue import MailServer, queue, send, smtp_site, the_mail


@pytest.fixture
def database_url(tmp_path) -> str:
    # Stamping a revision writes alembic_version: keep it in this test's own SQLite file.
    url = f"sqlite+aiosqlite:///{tmp_path / 'connect.db'}"
    asyncio.run(_create_sqlite(url))
    return url


def stamp_head(url: str) -> None:
    command.stamp(migrate.alembic_config(url), "head")


def build_index(site) -> None:
    site.call(site.ctx.search.indexer.rebuild)


def test_ready_when_database_schema_and_index_are_fine(site, client, database_url):
    stamp_head(database_url)
    build_index(site)
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "search"}
    assert all(check["ok"] for check in body["checks"].values()), body


def test_not_ready_until_the_schema_is_migrated(site, client):
    build_index(site)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["migrations"]
    assert "connect migrate" in body["message"]
    assert answer.headers["retry-after"]
    # The process itself is up: liveness stays green.
    assert client.get("/healthz").status_code == 200


def test_not_ready_without_a_usable_search_index(site, client, database_url):
    stamp_head(database_url)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["search"]
    assert "search" in body["message"] and "index" in body["message"]
    build_index(site)
    assert client.get("/readyz").status_code == 200


def test_not_ready_when_the_database_cannot_be_reached(site, client, database_url, tmp_path):
    stamp_head(database_url)
    build_index(site)
    context = site.ctx
    working = context.db
    context.db = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'folder' / 'x.db'}")
    try:
        answer = client.get("/readyz")
    finally:
        broken, context.db = context.db, working
        site.call(broken.dispose)
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["database", "migrations"]
    assert body["checks"]["database"]["ok"] is False
    assert "cannot query the database" in body["message"]
    assert client.get("/readyz").status_code == 200


def test_pages_name_the_sites_icon_and_the_old_address_leads_to_it(client):
    page = client.get("/login")
    assert '<link rel="icon" href="/static/img/icon.svg" type="image/svg+xml">' in page.text
    old = client.get("/favicon.ico", follow_redirects=False)
    assert old.status_code == 301 and old.headers["location"] == "/static/img/icon.svg"
    icon = client.get("/static/img/icon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_failed_mail_leaves_the_site_ready(settings, database_url):
    """Mail the server refuses is for the administrator to look into; the site still serves."""
    stamp_head(database_url)
    server = MailServer()
    server.refuse["carol@example.org"] = "550 5.1.1 mailbox unknown"
    with smtp_site(settings, server) as site:
        build_index(site)
        mail_id = queue(site, "carol@example.org")
        send(site)
        assert the_mail(site, mail_id).failed_at is not None
        answer = site.client.get("/readyz")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "ready"
