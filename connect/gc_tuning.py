"""The cyclic garbage collector in Connect's long-running processes."""

from __future__ import annotations

import gc

# Python's cyclic garbage collector, left at its defaults, took ~0.85 ms of a server's CPU
# per request of the load test's read mix: a young-generation pass every ~700 new objects
# (a page builds thousands) and, every few hundred requests, a full pass over every object
# the process holds (~150 ms each, a pause for every request in flight). Long-running
# processes move what they hold after start-up out of its reach (`gc.freeze`: modules, the
# ORM's mappings, compiled templates and statements, which live as long as the process)
# and let more objects come and go between passes; reference counting frees most of them
# anyway.
GC_THRESHOLDS = (10_000, 10, 10)


def tune_gc() -> None:
    """For a long-running process (server, `connect worker`, search process): freeze what is
    alive now, collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_after_startup() -> None:
    """Freeze again once the application has started (the lifespan calls this): only in
    processes `tune_gc` prepared, never in tests or tools that build apps in a loop."""
    if gc.get_freeze_count():
        gc.collect()
        gc.freeze()
