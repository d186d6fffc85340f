"""`connect check`: configuration, database, schema, data folder and index, each with a verdict."""

from __future__ import annotations

import os
from collections.abc import Callable

from sqlalchemy import text

from connect import migrate
from connect.db import make_engine
from connect.settings import Settings


async def run_checks(settings: Settings, *, report: Callable[[str], None]) -> int:
    """Print one line per check; return the number of problems."""
    problems = 0

    def ok(what: str, detail: str) -> None:
        report(f"ok   {what}: {detail}")

    def fail(what: str, detail: str) -> None:
        nonlocal problems
        problems += 1
        report(f"FAIL {what}: {detail}")

    data_dir = settings.data_dir
    try:
        settings.ensure_data_dir()
        probe = data_dir / ".write-check"
        probe.write_text("ok")
        probe.unlink()
        ok("data folder", f"{data_dir} is writable")
    except OSError as exc:
        fail("data folder", f"{data_dir} is not writable ({exc.strerror or exc})")

    if settings.secret_key and len(settings.secret_key) < 32:
        fail("secret key", "CONNECT_SECRET_KEY is shorter than 32 characters")
    else:
        ok("secret key", "set" if settings.secret_key else "generated in the data folder")

    if settings.base_url.startswith(("http://", "https://")):
        ok("base url", settings.base_url)
    else:
        fail(
            "base url",
            f"CONNECT_BASE_URL must start with http:// or https://, not {settings.base_url!r}",
        )

    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            current = await conn.run_sync(migrate.current_revision)
        head = migrate.head_revision(settings.database_url)
        ok("database", _redact(settings.database_url))
        if current == head:
            ok("schema", f"at revision {head}")
        else:
            fail("schema", f"at {current or 'nothing'}, expected {head}: run `connect migrate`")
    except Exception as exc:  # any driver error is a finding, not a crash
        fail(
            "database",
            f"cannot connect to {_redact(settings.database_url)}: {exc.__class__.__name__}: {exc}",
        )
    finally:
        await engine.dispose()

    index_dir = settings.path("index")
    if index_dir.exists() and not os.access(index_dir, os.W_OK):
        fail("search index", f"{index_dir} is not writable")
    else:
        ok("search index", f"folder {index_dir}")

    if settings.smtp_url and not settings.smtp_url.startswith(("smtp://", "smtps://")):
        fail("mail", "CONNECT_SMTP_URL must start with smtp:// or smtps://")
    else:
        ok("mail", "SMTP" if settings.smtp_url else f"written to {settings.path('mail')}")
    return problems


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"
