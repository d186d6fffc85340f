"""`connect reindex`, run as an administrator would: a progress bar, then the new index is live."""

import asyncio
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from connect import migrate
from connect.models import Base
from tests.test_cli import cli_env

ROOT = Path(__file__).resolve().parents[2]


def test_reindex_builds_and_swaps_in_a_new_index(tmp_path):
    data = tmp_path / "var"
    data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'connect.db'}"
    engine = create_engine(f"sqlite:///{data / 'connect.db'}")
    Base.metadata.create_all(engine)
    engine.dispose()
    from alembic import command

    command.stamp(migrate.alembic_config(url), "head")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "connect.cli",
            "create-admin",
            "root",
            "root@example.org",
            "--password-stdin",
        ],
        input="a long and unusual password\n",
        text=True,
        check=True,
        cwd=ROOT,
        env=cli_env(data),
        capture_output=True,
        timeout=120,
    )
    runs = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "connect.cli", "reindex", "--procs", "1"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=cli_env(data),
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        runs.append(result.stderr)
    assert "Indexing" in runs[0] and "is now the live index" in runs[0]
    assert "index-1 is now the live index" in runs[0]
    assert "index-2 is now the live index" in runs[1]
    assert (data / "index" / "current").read_text() == "index-2"

    from connect.app import create_app
    from connect.db import Database
    from connect.settings import Settings

    settings = Settings.from_env(cli_env(data), database_url=url)
    context = create_app(settings).state.ctx

    async def check():
        context.db = Database(url)
        try:
            return await context.search.startup_check()
        finally:
            await context.db.dispose()

    assert asyncio.run(check()) is None
