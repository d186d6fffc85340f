"""The `connect` command: serve, migrate, create-admin, check."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path

from connect.settings import Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        sys.exit(f"connect: configuration error: {exc}")


def cmd_migrate(args) -> int:
    from connect import migrate

    settings = _settings()
    settings.ensure_data_dir()
    migrate.upgrade(settings.database_url)
    print("Database is up to date.")
    return 0


def cmd_serve(args) -> int:
    from connect import migrate, serving

    settings = _settings()
    settings.ensure_data_dir()
    migrate.upgrade(settings.database_url)
    if settings.is_sqlite and args.workers > 1:
        print(
            "connect: several workers share one SQLite file; that works, but PostgreSQL "
            "suits more than one worker better.",
            file=sys.stderr,
        )
    companion = None
    if settings.run_workers:
        from connect.companion import Companion

        # Consumers and jobs run in a `connect worker` process beside the server's: their
        # CPU stays off the event loop that serves pages and live updates.
        companion = Companion()
        companion.start()
        os.environ["CONNECT_RUN_WORKERS"] = "0"  # for the app below (and uvicorn's workers)
    print(f"Connect is serving at http://{args.host}:{args.port}", file=sys.stderr)
    try:
        return serving.serve(settings, args.host, args.port, args.workers)
    finally:
        if companion is not None:
            companion.stop()


def cmd_create_admin(args) -> int:
    from connect.accounts import service as accounts
    from connect.app import create_app
    from connect.db import Database
    from connect.errors import ServiceError

    if not args.password_stdin:
        print(
            "connect: pass --password-stdin and send the password on standard input.",
            file=sys.stderr,
        )
        return 2
    password = sys.stdin.readline().rstrip("\r\n")
    settings = _settings()
    from connect import migrate

    settings.ensure_data_dir()
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    context = app.state.ctx

    async def run() -> None:
        context.db = Database(settings.database_url)
        try:
            await accounts.register(
                context,
                username=args.username,
                email=args.email,
                password=password,
                display_name=args.display_name or args.username,
                site_role="admin",
            )
        finally:
            await context.db.dispose()

    try:
        asyncio.run(run())
    except ServiceError as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        print(f"connect: {exc.message} {details}".strip(), file=sys.stderr)
        return 1
    print(f"Administrator {args.username} created.")
    return 0


def _run_with_app(work) -> int:
    """Migrate, build the app's context with a database, and run `work(context)`."""
    from connect import migrate
    from connect.app import build_workers, create_app
    from connect.db import Database

    settings = _settings()
    settings.ensure_data_dir()
    migrate.upgrade(settings.database_url)
    context = create_app(settings).state.ctx

    async def run():
        context.db = Database(settings.database_url)
        context.workers = build_workers(context)
        try:
            return await work(context)
        finally:
            await context.db.dispose()

    return asyncio.run(run()) or 0


def cmd_demo(args) -> int:
    from connect.demo import DEMO_PASSWORD, NotADemoSite, seed

    async def work(context):
        try:
            await seed(context)
        except NotADemoSite as exc:
            print(exc, file=sys.stderr)
            return 1
        for consumer in context.workers.consumers:
            await context.workers.drain(consumer)
        print(f"Demo site ready. Sign in as demo-admin with the password: {DEMO_PASSWORD}")

    return _run_with_app(work)


def cmd_digest(args) -> int:
    from connect.notifications.service import send_digests, send_due_mail

    async def work(context):
        for consumer in context.workers.consumers:
            await context.workers.drain(consumer)
        queued = await send_digests(context, force=args.force)
        sent = await send_due_mail(context, limit=10_000)
        print(f"{queued} digest{'s' if queued != 1 else ''} queued, {sent} message(s) sent.")

    return _run_with_app(work)


async def _stop_with_parent(stop: asyncio.Event) -> None:
    """A worker that `connect serve` started stops when the server is gone."""
    parent = os.environ.get("CONNECT_PARENT_PID")
    if not parent:
        return
    while os.getppid() == int(parent) and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1)
    stop.set()


def cmd_worker(args) -> int:
    import signal

    from connect import logs
    from connect.gc_tuning import tune_gc

    logs.configure(_settings().log_level)

    async def work(context):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await context.workers.start()
        context.search.indexer.start()
        await context.search.startup_check()
        tune_gc()
        watchers = [
            # No commit in this process wakes the consumers: the log's growth does.
            asyncio.create_task(context.workers.watch_log(context.search.indexer.wake)),
            asyncio.create_task(_stop_with_parent(stop)),
        ]
        print("connect worker running (notifier, mail, digests); Ctrl-C stops it.", file=sys.stderr)
        await stop.wait()
        for task in watchers:
            task.cancel()
        await context.search.close()
        await context.workers.stop()

    return _run_with_app(work)


def cmd_gc(args) -> int:
    from connect.storage import collect_garbage

    async def work(context):
        report = await collect_garbage(context.db, context.storage, min_age=args.min_age)
        print(
            f"{len(report.removed)} unreferenced file(s) removed "
            f"({report.bytes_freed:,} bytes), {report.kept} kept, "
            f"{report.stale_tmp} abandoned temporary file(s) removed."
        )

    return _run_with_app(work)


def cmd_reindex(args) -> int:
    from connect.search.commands import reindex

    async def work(context):
        return await reindex(context, procs=args.procs, limit_mb=args.limit_mb)

    return _run_with_app(work)


def cmd_backup(args) -> int:
    from connect.backup import BackupError, create_backup

    settings = _settings()
    try:
        manifest = asyncio.run(create_backup(settings, args.path, report=print))
    except BackupError as exc:
        print(f"connect: backup failed: {exc}", file=sys.stderr)
        return 1
    rows = sum(manifest.tables.values())
    print(f"Backup written to {args.path}: {rows} rows, {len(manifest.blobs)} file(s).")
    return 0


def cmd_restore(args) -> int:
    from connect.backup import BackupError, restore_backup

    settings = _settings()
    try:
        manifest = asyncio.run(restore_backup(settings, args.path, report=print))
    except BackupError as exc:
        print(f"connect: {exc}", file=sys.stderr)
        return 1
    print(
        f"Restored the backup of {manifest.created_at}: {sum(manifest.tables.values())} rows, "
        f"{len(manifest.blobs)} file(s); the search index was rebuilt."
    )
    return 0


def cmd_check(args) -> int:
    from connect.checks import run_checks

    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"FAIL configuration: {exc}")
        return 1
    problems = asyncio.run(run_checks(settings, report=print))
    if problems:
        print(f"{problems} problem{'s' if problems != 1 else ''} found.")
        return 1
    print("All checks passed.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="connect", description="Run and manage a Connect site.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve the site")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(func=cmd_migrate)

    admin = sub.add_parser("create-admin", help="create a site administrator")
    admin.add_argument("username")
    admin.add_argument("email")
    admin.add_argument("--display-name", default="")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    admin.set_defaults(func=cmd_create_admin)

    demo = sub.add_parser("demo", help="seed an empty site with demo data (safe to run again)")
    demo.set_defaults(func=cmd_demo)

    digest = sub.add_parser("digest", help="send due daily digests and queued mail now")
    digest.add_argument("--force", action="store_true", help="ignore the once-a-day limit")
    digest.set_defaults(func=cmd_digest)

    worker = sub.add_parser("worker", help="run the event consumers (CONNECT_RUN_WORKERS=0)")
    worker.set_defaults(func=cmd_worker)

    gc = sub.add_parser("gc", help="remove uploaded files nothing refers to any more")
    gc.add_argument(
        "--min-age",
        type=float,
        default=3600,
        help="spare files younger than this many seconds (uploads in flight); default 3600",
    )
    gc.set_defaults(func=cmd_gc)

    reindex = sub.add_parser(
        "reindex", help="rebuild the search index from the database and swap it in"
    )
    reindex.add_argument(
        "--procs", type=int, default=2, help="indexing processes (default 2; 1 on one core)"
    )
    reindex.add_argument(
        "--limit-mb",
        type=int,
        default=256,
        help="memory per indexing process before postings spill to disk (default 256); "
        "a rebuild that fits in memory is faster",
    )
    reindex.set_defaults(func=cmd_reindex)

    backup = sub.add_parser("backup", help="write database, files and key to one archive")
    backup.add_argument("path", type=Path, help="the archive to write (.tar.gz)")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="restore an archive into an empty site")
    restore.add_argument("path", type=Path, help="an archive written by `connect backup`")
    restore.set_defaults(func=cmd_restore)

    check = sub.add_parser("check", help="check configuration, database, index and data folder")
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
