"""Readiness: GET /readyz answers 200 only when this process can serve (database reachable,
schema current, search index usable); load balancers and orchestrators ask it."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connect import migrate

CHECK_TIMEOUT = 3.0


def _ok(detail: str) -> dict[str, Any]:
    return {"ok": True, "detail": detail}


def _fail(detail: str) -> dict[str, Any]:
    return {"ok": False, "detail": detail}


async def _head_revision(request: Request) -> str | None:
    """The newest migration shipped with the code (read from disk once per app)."""
    state = request.app.state
    if not hasattr(state, "head_revision"):
        url = request.app.state.ctx.settings.database_url
        state.head_revision = await asyncio.to_thread(migrate.head_revision, url)
    return state.head_revision


async def database_checks(request: Request) -> dict[str, dict[str, Any]]:
    """`database`: a query answers; `migrations`: the schema is at the code's head revision."""
    context = request.app.state.ctx
    if context.db is None:
        message = "the database is not open (the app is starting or stopping)"
        return {"database": _fail(message), "migrations": _fail("not checked: no database")}

    async def probe():
        async with context.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            return await conn.run_sync(migrate.current_revision)

    try:
        current = await asyncio.wait_for(probe(), CHECK_TIMEOUT)
    except TimeoutError:
        return {
            "database": _fail(f"no answer within {CHECK_TIMEOUT:g} seconds"),
            "migrations": _fail("not checked: no database"),
        }
    except Exception as exc:  # any driver error means: not ready
        return {
            "database": _fail(f"cannot query the database ({exc.__class__.__name__}: {exc})"),
            "migrations": _fail("not checked: no database"),
        }
    head = await _head_revision(request)
    if current == head:
        migrations = _ok(f"at revision {head}")
    else:
        migrations = _fail(
            f"the schema is at {current or 'no revision'}, the code expects {head}: "
            "run `connect migrate`"
        )
    return {"database": _ok("reachable"), "migrations": migrations}


async def search_check(request: Request) -> dict[str, Any]:
    search = request.app.state.ctx.search
    try:
        problem = await asyncio.wait_for(search.status(), CHECK_TIMEOUT)
    except TimeoutError:
        return _fail(f"the index did not answer within {CHECK_TIMEOUT:g} seconds")
    except Exception as exc:
        return _fail(f"cannot check the index ({exc.__class__.__name__}: {exc})")
    return _fail(problem) if problem else _ok("the index is usable")


async def readyz(request: Request) -> Response:
    checks = await database_checks(request)
    if request.app.state.ctx.search is not None:
        checks["search"] = await search_check(request)
    failing = [name for name, check in checks.items() if not check["ok"]]
    if not failing:
        return JSONResponse({"status": "ready", "checks": checks})
    message = "Not ready: " + "; ".join(f"{name}: {checks[name]['detail']}" for name in failing)
    return JSONResponse(
        {"status": "unavailable", "message": message, "failing": failing, "checks": checks},
        status_code=503,
        headers={"Retry-After": "5", "Cache-Control": "no-store"},
    )
