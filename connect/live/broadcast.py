"""Waking every process's hub: in-process by default, Redis pub/sub when configured.

The message is only a hint to read the event log now; each hub also polls it
every second, since pub/sub drops messages while a subscriber is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger("connect.live")
CHANNEL = "connect:events"


class Broadcast:
    """In-process: the local hub is already woken after each commit; nothing to send."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def publish(self) -> None:
        pass


class RedisBroadcast(Broadcast):
    def __init__(self, url: str, on_message: Callable[[], None]) -> None:
        self.url = url
        self.on_message = on_message
        self._client = None
        self._listener: asyncio.Task | None = None
        self._pending: set[asyncio.Task] = set()

    async def start(self) -> None:
        import redis.asyncio as redis

        self._client = redis.from_url(self.url)
        self._listener = asyncio.create_task(self._listen(), name="redis-listener")

    async def stop(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for task in list(self._pending):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()

    def publish(self) -> None:
        task = asyncio.create_task(self._publish())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self) -> None:
        try:
            await self._client.publish(CHANNEL, b"1")
        except Exception as exc:  # Redis down: the other hubs still poll every second
            log.warning("could not publish a wake-up to Redis: %s", exc)

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self._client.pubsub()
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.on_message()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Redis subscription lost (%s); reconnecting", exc)
                self.on_message()  # catch up on anything missed meanwhile
                await asyncio.sleep(1)


def make_broadcast(redis_url: str, *, on_message: Callable[[], None]) -> Broadcast:
    return RedisBroadcast(redis_url, on_message) if redis_url else Broadcast()
