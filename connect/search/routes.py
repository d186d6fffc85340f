"""The search page and GET /api/v1/search (api.md, Search)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connect.search import query as q
from connect.search.schema import TYPES
from connect.search.service import PER_PAGE, SearchParams
from connect.web import api, ctx, page, page_params, render, viewer

TYPE_LABELS = {
    "thread": "Discussions",
    "post": "Replies",
    "entry": "Library",
    "member": "Members",
    "community": "Communities",
}


def _params(request: Request) -> SearchParams:
    number, per_page = page_params(request, default_per_page=PER_PAGE)
    get = request.query_params.get
    return SearchParams(
        q=get("q", ""),
        type=get("type", ""),
        community=get("community", ""),
        author=get("author", ""),
        after=get("after", ""),
        before=get("before", ""),
        sort=get("sort", "relevance"),
        page=number,
        per_page=per_page,
    )


@api
async def search_api(request: Request) -> Response:
    params = _params(request)
    answer = await ctx(request).search.search(await viewer(request), params)
    answer.pop("q", None)
    return JSONResponse(answer)


@page
async def search_page(request: Request) -> Response:
    params = _params(request)
    answer = await ctx(request).search.search(await viewer(request), params)
    chosen = {
        "type": q.TYPE_ALIASES.get(params.type.lower(), ""),
        "community": params.community.strip().lower(),
        "author": params.author.strip(),
        "after": params.after if q.parse_day(params.after) else "",
        "before": params.before if q.parse_day(params.before) else "",
        "sort": answer["sort"],
    }

    def link(**changes) -> str:
        """This search with some parameters changed (None removes one); back to page 1."""
        values = {"q": params.q, **chosen, **changes}
        if values.get("sort") == "relevance":
            values.pop("sort")
        return "/search?" + urlencode({k: v for k, v in values.items() if v})

    base = link()
    return await render(
        request,
        "search/results.html",
        {
            "answer": answer,
            "search_query": answer["q"],
            "chosen": chosen,
            "link": link,
            "types": TYPES,
            "type_labels": TYPE_LABELS,
            "pager_base": base + ("" if base.endswith("?") else "&"),
        },
    )


routes = [
    Route("/search", search_page),
    Route("/api/v1/search", search_api),
]
