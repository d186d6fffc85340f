"""The search page and GET /api/v1/search (api.md, Search)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connect.errors import Invalid
from connect.search import query as q
from connect.search.schema import TYPES
from connect.search.service import PER_PAGE, SORTS, SearchParams
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


def _refused(params: SearchParams) -> dict[str, str]:
    """The parameters that mean nothing (api.md, Search), by name: a mistyped date or type
    must not quietly widen the search."""
    refused = {}
    if params.type.strip() and params.type.strip().lower() not in q.TYPE_ALIASES:
        refused["type"] = f"One of {', '.join(TYPES)}."
    for name in ("after", "before"):
        value = getattr(params, name)
        if value.strip() and q.parse_day(value) is None:
            refused[name] = "A date, YYYY-MM-DD."
    if params.sort and params.sort not in SORTS:
        refused["sort"] = f"One of {', '.join(SORTS)}."
    return refused


@api
async def search_api(request: Request) -> Response:
    params = _params(request)
    refused = _refused(params)
    if refused:
        raise Invalid("Some search parameters are not understood.", fields=refused)
    answer = await ctx(request).search.search(await viewer(request), params)
    answer.pop("q", None)
    return JSONResponse(answer)


@page
async def search_page(request: Request) -> Response:
    params = _params(request)
    ignored = _refused(params)
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
            "ignored": ignored,
        },
    )


routes = [
    Route("/search", search_page),
    Route("/api/v1/search", search_api),
]
