"""The WebSocket endpoint GET /api/v1/live (api.md, Live updates)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from urllib.parse import urlsplit

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from connect.db import is_unavailable
from connect.errors import Unavailable
from connect.live.hub import MAX_SUBSCRIPTIONS, Connection, encode
from connect.web import DATABASE_UNAVAILABLE, SESSION_COOKIE, error_json, load_viewer, log

MAX_FRAME = 64 * 1024
MAX_MESSAGES_PER_SECOND = 20


def _same_origin(origin: str | None, base_url: str) -> bool:
    if not origin:
        return False
    try:
        a, b = urlsplit(origin), urlsplit(base_url)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:  # a malformed Origin (bad port, broken IPv6) is foreign too
        return False


async def live(websocket: WebSocket) -> None:
    context = websocket.app.state.ctx
    token = websocket.query_params.get("token")
    cookie = websocket.cookies.get(SESSION_COOKIE)
    if (
        cookie
        and not token
        and not _same_origin(websocket.headers.get("origin"), context.settings.base_url)
    ):
        # Another site must not ride a member's cookie: refuse before the upgrade (403).
        await websocket.close(code=1008)
        return
    try:
        viewer = await load_viewer(context, bearer=token, cookie=None if token else cookie)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        await _refuse_while_unavailable(websocket, exc)
        return
    if token and viewer.user is None:
        await websocket.close(code=1008)
        return
    await websocket.accept()

    async def send(message: dict | str) -> None:
        await websocket.send_text(message if isinstance(message, str) else encode(message))

    connection = Connection(send=send, viewer=viewer)
    hub = context.hub
    hub.add(connection)
    sender = asyncio.create_task(connection.sender())
    receiver = asyncio.create_task(_receive(websocket, connection, hub))
    try:
        done, _ = await asyncio.wait(
            {sender, receiver, asyncio.create_task(connection.closed.wait())},
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        hub.remove(connection)
        for task in (sender, receiver):
            task.cancel()
        if connection.close_code is not None:
            with contextlib.suppress(Exception):
                await websocket.close(code=connection.close_code)


async def _refuse_while_unavailable(websocket: WebSocket, exc: BaseException) -> None:
    """The database is down: answer the handshake as any request then (503, Retry-After,
    api.md's error shape), not with a 500; clients reconnect as after any refusal."""
    log.warning("database unavailable on WebSocket /api/v1/live: %s", exc.__class__.__name__)
    response = error_json(Unavailable(DATABASE_UNAVAILABLE, code="database_unavailable"))
    try:
        await websocket.send_denial_response(response)
    except RuntimeError:  # a server without the denial-response extension
        await websocket.close(code=1013)  # "try again later"


async def _receive(websocket: WebSocket, connection: Connection, hub) -> None:
    window_start, count = time.monotonic(), 0
    try:
        while True:
            raw = await websocket.receive_text()
            if len(raw.encode()) > MAX_FRAME:
                connection.close_code = 1009
                connection.closed.set()
                return
            now = time.monotonic()
            if now - window_start >= 1:
                window_start, count = now, 0
            count += 1
            if count > MAX_MESSAGES_PER_SECOND:
                connection.offer({"op": "error", "code": "rate_limited"})
                continue
            await _handle(raw, connection, hub)
    except (WebSocketDisconnect, RuntimeError):
        connection.closed.set()


async def _handle(raw: str, connection: Connection, hub) -> None:
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        connection.offer({"op": "error", "code": "bad_message"})
        return
    op = message["op"]
    channel = message.get("channel")
    if op == "subscribe" and isinstance(channel, str) and len(channel) <= 100:
        if channel in connection.channels:
            connection.offer({"op": "subscribed", "channel": channel})
        elif len(connection.channels) >= MAX_SUBSCRIPTIONS:
            connection.offer({"op": "error", "code": "too_many_subscriptions", "channel": channel})
        elif await hub.can_subscribe(connection.viewer, channel):
            if channel == "me":
                await hub.follow_network(connection)
            connection.channels.add(channel)
            connection.offer({"op": "subscribed", "channel": channel})
        else:
            connection.offer({"op": "error", "code": "forbidden", "channel": channel})
    elif op == "unsubscribe" and isinstance(channel, str):
        connection.channels.discard(channel)
        connection.offer({"op": "unsubscribed", "channel": channel})
    elif op == "resume" and isinstance(message.get("last_event_id"), int):
        await hub.resume(connection, message["last_event_id"])
    elif op == "ping":
        connection.offer({"op": "pong"})
    else:
        connection.offer({"op": "error", "code": "bad_message"})


routes = [WebSocketRoute("/api/v1/live", live)]
