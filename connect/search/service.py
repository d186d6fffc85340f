"""Search as a service: who may see what (asked of the database on every query), the query,
the engine in a thread, and the answer in api.md's shape. `context.search` is one of these."""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import select

from connect import permissions
from connect.communities.models import Community
from connect.errors import Unavailable
from connect.permissions import Viewer
from connect.search import processes
from connect.search import query as q
from connect.search.engine import MAX_EXPANSIONS, Access, Engine, Plan
from connect.search.indexer import Indexer
from connect.search.schema import TYPES
from connect.search.store import IndexStore, IndexUnavailable

log = logging.getLogger("connect.search")
SEARCH_THREADS = 2
PER_PAGE = 20
SORTS = ("relevance", "newest")


@dataclass
class SearchParams:
    q: str = ""
    type: str = ""
    community: str = ""
    author: str = ""
    after: str = ""
    before: str = ""
    sort: str = "relevance"
    page: int = 1
    per_page: int = PER_PAGE

    def filters(self) -> list:
        """The explicit filters (query string parameters), as query nodes; bad ones are dropped."""
        nodes = []
        kind = q.TYPE_ALIASES.get(self.type.strip().lower())
        if kind:
            nodes.append(q.Filter("type", kind))
        if self.community.strip():
            nodes.append(q.Filter("community", self.community.strip().lower()))
        if self.author.strip():
            nodes.append(q.Filter("author", self.author.strip().lower().lstrip("@")))
        for name in ("after", "before"):
            day = q.parse_day(getattr(self, name))
            if day:
                nodes.append(q.DateBound(name, day))
        return nodes


def access_for(viewer: Viewer, communities: list) -> Access:
    unreadable = frozenset(
        str(c.id) for c in communities if not permissions.can_read_community(viewer, c)
    )
    moderated = (
        None
        if viewer.is_site_moderator
        else frozenset(str(c.id) for c in communities if permissions.can_moderate(viewer, c))
    )
    unlisted = frozenset(
        str(c.id) for c in communities if not permissions.can_see_community(viewer, c)
    )
    return Access(unreadable, moderated, str(viewer.id) if viewer.signed_in else None, unlisted)


def _resolve(node, slugs: dict[str, int]):
    """Community filters name a slug; the index knows community ids."""
    if isinstance(node, q.Filter) and node.field == "community":
        return q.Filter("community", str(slugs.get(node.value, -1)))
    if isinstance(node, (q.And, q.Or)):
        return type(node)(tuple(_resolve(c, slugs) for c in node.children))
    if isinstance(node, q.Not):
        return q.Not(_resolve(node.child, slugs))
    return node


def item_url(hit: dict, slug: str | None) -> str:
    kind = hit["type"]
    if kind == "thread":
        return f"/threads/{hit['id']}"
    if kind == "post":
        return f"/posts/{hit['id']}"
    if kind == "entry":
        return f"/c/{slug}/library/{hit['id']}"
    if kind == "member":
        return f"/members/{hit['author']}"
    return f"/c/{slug}"


def notice(code: str, message: str) -> dict:
    """Why a search found less than it might have, for the page and the API to show."""
    return {"code": code, "message": message}


def _too_common(words: list[str]) -> dict:
    quoted = ", ".join(f"“{w}”" for w in words)
    verb = "is" if len(words) == 1 else "are"
    return notice(
        "common_words",
        f"{quoted} {verb} too common to search for. Add a less common word.",
    )


def suggestion_text(text: str, corrections: dict[str, str]) -> str | None:
    if not corrections:
        return None
    for word, better in corrections.items():
        text = re.sub(rf"(?i)\b{re.escape(word)}\b", better, text)
    return text


class SearchService:
    def __init__(self, context) -> None:
        self.context = context
        self.store = IndexStore(context.settings.path("index"))
        self.engine = Engine(self.store)
        self.indexer = Indexer(context, self.store)
        self.processes = context.settings.search_processes
        self._executor: Executor | None = None

    def _runner(self) -> Executor:
        if self._executor is None:
            if self.processes > 0:
                self._executor = processes.pool(self.store.root, self.processes)
            else:
                self._executor = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="search")
        return self._executor

    def start_processes(self) -> None:
        """Start the search processes in the background now (about a second) rather than at
        the first query; a query that comes first waits for them the same."""
        if self.processes > 0 and self._executor is None:
            loop = asyncio.get_running_loop()
            runner = self._runner()
            for _ in range(self.processes):
                loop.run_in_executor(runner, processes.ready)

    async def startup_check(self) -> str | None:
        """Find a missing, corrupt or outdated index at start; the indexer rebuilds it."""
        problem = await asyncio.to_thread(self.store.problem)
        if problem:
            log.warning("search index needs a rebuild: %s", problem)
            self.indexer.suspect = True
            self.indexer.wake()
        return problem

    async def status(self) -> str | None:
        """Why search cannot answer right now, or None when it can (GET /readyz asks)."""
        if self.store.rebuilding:
            return "the search index is being rebuilt"
        return await asyncio.to_thread(self.store.problem)

    async def search(self, viewer: Viewer, params: SearchParams) -> dict:
        text = q.cut(params.q).strip()
        sort = params.sort if params.sort in SORTS else "relevance"
        answer = {
            "q": text,
            "total": 0,
            "page": params.page,
            "per_page": params.per_page,
            "sort": sort,
            "suggestion": None,
            "notices": [],
            "facets": {"type": {}, "community": {}},
            "items": [],
        }
        parsed = q.parse(text)
        extra = params.filters()
        tree = q._and([parsed, *extra])
        if tree is None:
            return answer
        async with self.context.db.read() as session:
            # Plain rows, not ORM objects: this runs on every query.
            communities = list(
                await session.execute(select(Community.id, Community.slug, Community.visibility))
            )
        slugs = {c.slug: c.id for c in communities}
        by_id = {c.id: c.slug for c in communities}
        analyzed = q.analyze(_resolve(tree, slugs))
        for prefix in q.too_short(parsed):
            answer["notices"].append(
                notice(
                    "prefix_too_short",
                    f"“{prefix}*” was left out: type at least {q.MIN_PREFIX} letters before *.",
                )
            )
        if analyzed is None:  # only stop words
            common = q.too_common(parsed)
            if common:
                answer["notices"].append(_too_common(common))
            return answer
        plan = Plan(
            analyzed,
            access_for(viewer, communities),
            sort=sort,
            page=params.page,
            per_page=params.per_page,
        )
        outcome = await self._run(plan)
        answer["total"] = outcome.total
        answer["facets"] = {
            "type": {t: outcome.types[t] for t in TYPES if outcome.types.get(t)},
            "community": {
                by_id[cid]: n
                for cid, n in sorted(outcome.communities.items(), key=lambda kv: -kv[1])
                if cid in by_id
            },
        }
        answer["suggestion"] = suggestion_text(text, outcome.corrections)
        for prefix in outcome.cut_prefixes:
            answer["notices"].append(
                notice(
                    "prefix_cut_short",
                    f"More than {MAX_EXPANSIONS} words start with “{prefix}”: only the "
                    f"{MAX_EXPANSIONS} most common were searched. Type more letters to find "
                    "the others.",
                )
            )
        answer["items"] = [self._item(hit, by_id) for hit in outcome.hits]
        return answer

    async def _run(self, plan: Plan):
        loop = asyncio.get_running_loop()
        try:
            if self.processes <= 0:
                return await loop.run_in_executor(self._runner(), self.engine.run, plan)
            for attempt in (1, 2):
                runner = self._runner()
                try:
                    return await loop.run_in_executor(
                        runner, processes.run, plan, self.store.version
                    )
                except BrokenProcessPool:
                    # A search process died (killed, out of memory): the index is not to
                    # blame. New processes get one more try.
                    log.error("a search process died; starting new ones (try %d)", attempt)
                    if self._executor is runner:
                        self._executor = None
                    runner.shutdown(wait=False, cancel_futures=True)
            raise Unavailable("Search was interrupted. Try again.", code="search_unavailable")
        except Unavailable:
            raise  # search processes that keep dying: not the index's fault
        except IndexUnavailable as exc:
            log.warning("search unavailable: %s", exc)
            self._repair()
        except Exception:
            log.exception("search failed; the index will be checked")
            self._repair()
        if self.store.rebuilding:
            message = "The search index is being rebuilt. Try again in a minute."
        else:
            message = "Search is unavailable while its index is repaired. Try again in a minute."
        raise Unavailable(message, code="search_unavailable")

    def _repair(self) -> None:
        self.store.drop_searcher()
        self.indexer.suspect = True
        self.indexer.wake()

    @staticmethod
    def _item(hit: dict, by_id: dict[int, str]) -> dict:
        slug = by_id.get(hit["community_id"])
        created = hit["created"]
        return {
            "type": hit["type"],
            "id": hit["id"],
            "title": hit["title"],
            "title_html": hit["title_html"],
            "url": item_url(hit, slug),
            "snippet": hit["snippet"],
            "community": slug,
            "author": hit["author"],
            "created_at": created.replace(tzinfo=UTC).isoformat() if created else None,
            "thread_id": hit["thread_id"],
            "file": hit["file"],
            "status": hit["status"],
        }

    async def close(self) -> None:
        await self.indexer.stop()
        runner, self._executor = self._executor, None
        if runner is not None:
            # Waited for (queries are short) so that search processes exit cleanly.
            await asyncio.to_thread(runner.shutdown, wait=True, cancel_futures=True)
