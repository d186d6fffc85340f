"""`connect reindex`: rebuild the search index from the database beside the current one, with
a progress bar, and swap it in at the end (searches keep using the old one meanwhile)."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from connect.search.indexer import REBUILD_LIMIT_MB

DEFAULT_PROCS = min(2, os.cpu_count() or 1)


async def reindex(
    context,
    *,
    procs: int = DEFAULT_PROCS,
    limit_mb: int = REBUILD_LIMIT_MB,
    console: Console | None = None,
) -> int:
    console = console or Console(stderr=True)
    columns = (
        TextColumn("[bold]Indexing[/bold] rows"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("rows", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        procs = max(1, min(procs, os.cpu_count() or 1))
        result = await context.search.indexer.rebuild(
            progress=report, procs=procs, limit_mb=limit_mb
        )
    console.print(
        f"Indexed {result.documents:,} documents in {result.seconds:.1f} s "
        f"({result.per_second:,.0f} per second); {result.path.name} is now the live index."
    )
    return 0
