"""The hub: reads committed events from the log and fans them out to WebSocket connections.

One hub per process. It wakes on every local commit (or a Redis message from
another process) and also polls every second. Each event is checked against
each subscribed connection's permissions before it is queued; each connection
has a bounded queue and its own sender, so one slow client delays nobody.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from connect import events, permissions
from connect.accounts.models import User
from connect.communities.models import Community, Membership
from connect.events import Event
from connect.permissions import Role, Viewer

log = logging.getLogger("connect.live")
POLL_SECONDS = 1.0
QUEUE_SIZE = 1000
# Fan-out lets other tasks run after every so many sends are queued: each queued send
# wakes a sender task, and a thousand of them in one go would hold up every request
# (and its database round trips) in this process for the whole burst.
YIELD_EVERY = 64
MAX_SUBSCRIPTIONS = 100
MEMBERSHIP_EVENTS = {"member.joined", "member.left", "member.removed", "member.role_changed"}
REFRESH_EVENTS = MEMBERSHIP_EVENTS | {
    "membership.invited",
    "membership.declined",
    "member.suspended",
    "member.site_role_changed",
}
# Changes to who is in a member's network (contacts, blocks): the hub reloads it for their
# connections. "network.changed" (a block) is never sent to anyone: the blocked member
# must not learn of it.
NETWORK_EVENTS = {"contact.accepted", "contact.removed", "network.changed"}
# Activity that may bring a new item to a member's home feed. A `feed.item` on `me` tells
# the page to fetch its newest items; the server decides what they are and who may see them.
FEED_EVENTS = {
    "thread.created",
    "thread.approved",
    "post.created",
    "post.approved",
    "entry.created",
    "entry.approved",
    "member.joined",
}


class SlowClient(Exception):
    """The connection's queue is full: it is closed (1013) and resumes on reconnect."""


@dataclass(frozen=True)
class CommunityInfo:
    id: int
    slug: str
    visibility: str


def encode(message: dict) -> str:
    """A message as the JSON text frame sent to clients."""
    return json.dumps(message, separators=(",", ":"))


@dataclass(eq=False)
class Connection:
    """One WebSocket's state in the hub; `send` delivers one message (the endpoint's).

    A message is a dict, or a str already encoded with `encode` (an event, encoded
    once for all its subscribers rather than once per connection).
    """

    send: Callable[[dict | str], Awaitable[None]]
    viewer: Viewer
    channels: set[str] = field(default_factory=set)
    # Messages waiting for the sender (a plain deque: offering is on the fan-out's hot path,
    # once per subscriber per event), at most `limit` of them.
    queue: collections.deque = field(default_factory=collections.deque)
    limit: int = QUEUE_SIZE
    delivered: set[int] = field(default_factory=set)
    id: int = field(default_factory=itertools.count(1).__next__)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    # For `feed.item` (loaded when `me` is followed): accepted contacts, and members
    # blocked either way, whose activity never reaches this member's feed.
    contacts: frozenset[int] = frozenset()
    blocked: frozenset[int] = frozenset()

    _waiting: asyncio.Future | None = None  # set while the sender waits for a message

    def offer(self, message: dict | str) -> None:
        if len(self.queue) >= self.limit:
            raise SlowClient
        self.queue.append(message)
        waiting, self._waiting = self._waiting, None
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def sender(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self.queue:
                await self.send(self.queue.popleft())
            self._waiting = loop.create_future()
            await self._waiting


class Hub:
    def __init__(self, db, *, replay_limit: int = 10_000) -> None:
        self.db = db
        self.replay_limit = replay_limit
        self.connections: set[Connection] = set()
        self.cursor = 0
        self._wake = asyncio.Event()
        self._requests: asyncio.Queue = asyncio.Queue()
        self._communities: dict[int, CommunityInfo] = {}
        self._task: asyncio.Task | None = None
        # Called with each batch of new events the hub reads, this process's or another's.
        self.on_events: list[Callable[[list[Event]], None]] = []

    # Lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        async with self.db.read() as session:
            self.cursor = await events.latest_id(session)
            await self._load_communities(session)
        self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def close_all(self, *, code: int) -> None:
        """Ask every client to reconnect (1012 at shutdown), flushing what is queued first."""
        await self._fan_out_safely()
        for connection in list(self.connections):
            connection.close_code = code
            connection.closed.set()

    async def _fan_out_safely(self) -> None:
        with contextlib.suppress(Exception):
            await self._fan_out()

    # Connections ------------------------------------------------------------------

    def add(self, connection: Connection) -> None:
        self.connections.add(connection)

    def remove(self, connection: Connection) -> None:
        self.connections.discard(connection)

    async def community_by_slug(self, slug: str) -> CommunityInfo | None:
        for info in self._communities.values():
            if info.slug == slug:
                return info
        async with self.db.read() as session:
            await self._load_communities(session)
        return next((i for i in self._communities.values() if i.slug == slug), None)

    async def can_subscribe(self, viewer: Viewer, channel: str) -> bool:
        kind, _, name = channel.partition(":")
        if kind == "me":
            return viewer.signed_in and not name
        if kind == "moderation":
            return viewer.signed_in and not name and self._moderates_any(viewer)
        if kind == "community":
            info = await self.community_by_slug(name)
            return info is not None and permissions.can_read_community(viewer, _community(info))
        if kind == "thread" and name.isdigit():
            return await self._can_read_thread(viewer, int(name))
        return False

    async def follow_network(self, connection: Connection) -> None:
        """Load whose activity reaches this connection's `me` channel as feed items."""
        if connection.viewer.signed_in:
            async with self.db.read() as session:
                await self._load_network(session, [connection])

    async def _load_network(self, session, connections: list[Connection]) -> None:
        from connect.network.service import blocked_either_way, contact_ids

        for connection in connections:
            user_id = connection.viewer.id
            connection.contacts = frozenset(await contact_ids(session, user_id))
            connection.blocked = frozenset(await blocked_either_way(session, user_id))

    async def resume(self, connection: Connection, last_event_id: int) -> None:
        """Replay what the connection missed, in order, in the hub's own task (no gaps)."""
        done = asyncio.get_running_loop().create_future()
        await self._requests.put((connection, last_event_id, done))
        self.wake()
        await done

    # The loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
                self._wake.clear()
                await self._serve_resumes()
                await self._fan_out()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live hub step failed; retrying")
                await asyncio.sleep(1)

    async def _fan_out(self) -> None:
        while True:
            async with self.db.read() as session:
                batch = await events.read_since(session, self.cursor, limit=500)
                if batch.events:
                    for listener in self.on_events:
                        listener(batch.events)
                for event in batch.events:
                    # Permissions change in log order: a removed member misses what follows.
                    if event.type == "member.deleted":
                        self._end_sessions(event.subject_id)
                    elif event.type.startswith("community.") or event.type in REFRESH_EVENTS:
                        await self._refresh(session, event)
                    elif event.type in NETWORK_EVENTS:
                        await self._refresh_network(session, event)
                    await self._deliver(event, self.connections)
                    self.cursor = event.id
            self.cursor = batch.cursor
            if len(batch.events) < 500:
                return

    async def _serve_resumes(self) -> None:
        while not self._requests.empty():
            connection, last_id, done = self._requests.get_nowait()
            try:
                if self.cursor - last_id > self.replay_limit or last_id < 0:
                    connection.offer({"op": "resync", "reason": "too_far_behind"})
                else:
                    await self._replay(connection, last_id)
            except SlowClient:
                self._drop(connection)
            finally:
                if not done.done():
                    done.set_result(None)

    async def _replay(self, connection: Connection, last_id: int) -> None:
        cursor = last_id
        while cursor < self.cursor:
            async with self.db.read() as session:
                rows = (
                    await session.execute(
                        select(Event)
                        .where(Event.id > cursor, Event.id <= self.cursor)
                        .order_by(Event.id)
                        .limit(500)
                    )
                ).scalars()
                batch = list(rows)
            if not batch:
                break
            for event in batch:
                if event.id not in connection.delivered:
                    await self._deliver(event, {connection})
            cursor = batch[-1].id
        connection.delivered.clear()

    async def _deliver(self, event: Event, connections) -> None:
        """Queue the event for each connection that follows its channel and may see it.

        Runs only in the hub's task, so events still go out one at a time, in log order;
        a connection that subscribes meanwhile gets the event from its resume instead.
        Home-feed news goes as a `feed.item` on `me` to those who don't get the event
        itself: a connection hears of each event id once (clients drop repeated ids).
        """
        channels = self._channels_of(event)
        feed = _feed_news(event)
        if not channels and not feed:
            return
        encoded: dict[str, str] = {}  # by channel: one encoding per event, not per connection
        # Whether anonymous viewers may see it: the same answer for all of them.
        anonymous: bool | None = None
        queued = 0
        for connection in list(connections):
            if connection.close_code is not None:
                continue
            matching = [c for c in channels if c in connection.channels]
            if not matching:
                may_see = False
            elif connection.viewer.signed_in:
                may_see = self._may_see(connection.viewer, event)
            else:
                if anonymous is None:
                    anonymous = self._may_see(connection.viewer, event)
                may_see = anonymous
            if may_see:
                channel = matching[0]
                message = encoded.get(channel)
                if message is None:
                    message = encoded[channel] = encode(
                        {
                            "op": "event",
                            "id": event.id,
                            "channel": channel,
                            "type": event.type,
                            "data": event.data,
                        }
                    )
            elif feed and self._wants_feed_item(connection, event):
                message = encoded.get("feed.item")
                if message is None:
                    message = encoded["feed.item"] = _feed_item(event, self._communities)
            else:
                continue
            try:
                connection.offer(message)
                if len(connection.delivered) < 10_000:
                    connection.delivered.add(event.id)
            except SlowClient:
                self._drop(connection)
            queued += 1
            if queued % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let those senders, and everyone else, run

    def _wants_feed_item(self, connection: Connection, event: Event) -> bool:
        """Whether this member's home feed gains from the event: activity in one of their
        communities or by one of their contacts, not their own, not across a block, that
        they may read."""
        viewer, actor = connection.viewer, event.actor_id
        if "me" not in connection.channels or not viewer.signed_in:
            return False
        if actor is None or actor == viewer.id or actor in connection.blocked:
            return False
        info = self._communities.get(event.community_id) if event.community_id else None
        member = info is not None and viewer.role_in(_community(info)) is not None
        return (member or actor in connection.contacts) and self._may_see(viewer, event)

    def _end_sessions(self, user_id: int) -> None:
        """A deleted account's sockets close (1008, as for a refused sign-in): its sessions
        and tokens ended with it, so a reconnect comes back anonymous or is refused."""
        for connection in self.connections:
            if connection.viewer.signed_in and connection.viewer.id == user_id:
                connection.close_code = 1008
                connection.closed.set()

    def _drop(self, connection: Connection) -> None:
        connection.close_code = 1013
        connection.closed.set()

    # Routing and permission ----------------------------------------------------------

    def _channels_of(self, event: Event) -> list[str]:
        if event.type == "network.changed":
            return []
        channels: list[str] = []
        thread_id = event.data.get("thread_id") if isinstance(event.data, dict) else None
        if event.type.startswith("thread.") and event.subject_id:
            thread_id = event.subject_id
        if thread_id:
            channels.append(f"thread:{thread_id}")
        info = self._communities.get(event.community_id) if event.community_id else None
        if info and event.audience != "user":
            channels.append(f"community:{info.slug}")
        if event.target_user_id and event.audience == "user":
            channels.append("me")
        if event.type == "moderation.changed" or event.audience in ("author", "moderators"):
            channels.append("moderation")
        return channels

    def _may_see(self, viewer: Viewer, event: Event) -> bool:
        if event.audience == "user":
            return viewer.signed_in and viewer.id == event.target_user_id
        info = self._communities.get(event.community_id) if event.community_id else None
        if info is None:
            return event.audience == "public"
        community = _community(info)
        if not permissions.can_read_community(viewer, community):
            return False
        if event.audience in ("public", "members"):
            return True
        if event.audience == "moderators":
            return permissions.can_moderate(viewer, community)
        if event.audience == "author":
            return (viewer.signed_in and viewer.id == event.actor_id) or permissions.can_moderate(
                viewer, community
            )
        return False

    def _moderates_any(self, viewer: Viewer) -> bool:
        if viewer.is_site_moderator:
            return True
        return any(
            m.status == "active" and m.role in ("moderator", "owner")
            for m in viewer.memberships.values()
        )

    async def _can_read_thread(self, viewer: Viewer, thread_id: int) -> bool:
        from connect.boards.models import Thread

        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(Thread.status, Thread.author_id, Thread.community_id).where(
                        Thread.id == thread_id
                    )
                )
            ).first()
            if row is None:
                return False
            info = self._communities.get(row.community_id)
            if info is None:
                await self._load_communities(session)
                info = self._communities.get(row.community_id)
        return info is not None and permissions.can_see_post(
            viewer, _community(info), status=row.status, author_id=row.author_id
        )

    async def _load_communities(self, session) -> None:
        rows = await session.execute(select(Community.id, Community.slug, Community.visibility))
        self._communities = {cid: CommunityInfo(cid, slug, vis) for cid, slug, vis in rows}

    async def _refresh_network(self, session, event: Event) -> None:
        users = {event.actor_id, event.target_user_id} - {None}
        affected = [
            c
            for c in self.connections
            if c.viewer.signed_in and c.viewer.id in users and "me" in c.channels
        ]
        if affected:
            await self._load_network(session, affected)

    async def _refresh(self, session, event: Event) -> None:
        """Keep community visibility and members' roles current, before later events go out."""
        if event.type.startswith("community."):
            await self._load_communities(session)
            return
        user_id = event.target_user_id
        affected = [c for c in self.connections if c.viewer.signed_in and c.viewer.id == user_id]
        if not affected:
            return
        rows = await session.execute(
            select(Membership.community_id, Membership.role, Membership.status).where(
                Membership.user_id == user_id
            )
        )
        memberships = {cid: Role(role, status) for cid, role, status in rows}
        user = await session.get(User, user_id)
        for connection in affected:
            connection.viewer = Viewer(user=user or connection.viewer.user, memberships=memberships)


def _feed_item(event: Event, communities: dict[int, CommunityInfo]) -> str:
    info = communities.get(event.community_id) if event.community_id else None
    return encode(
        {
            "op": "event",
            "id": event.id,
            "channel": "me",
            "type": "feed.item",
            "data": {"event": event.type, "community": info.slug if info else None},
        }
    )


def _feed_news(event: Event) -> bool:
    """Published activity for home feeds (a new thread's first post is the thread's news)."""
    if event.type not in FEED_EVENTS or event.audience not in ("public", "members"):
        return False
    first = isinstance(event.data, dict) and event.data.get("first")
    return not (event.type in ("post.created", "post.approved") and first)


@functools.lru_cache(maxsize=1024)
def _community(info: CommunityInfo) -> Community:
    """A detached Community for permission checks, built once per (immutable) info.

    Building a mapped object is costly (SQLAlchemy instrumentation) and this runs for
    every subscriber of every event; a changed community gets a new info, so a new key.
    """
    return Community(id=info.id, slug=info.slug, visibility=info.visibility)
