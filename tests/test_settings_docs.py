"""README.md's configuration table is the one generated from connect/settings.py."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from connect.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "settings-table"
README = ROOT / "README.md"


def script():
    return runpy.run_path(str(SCRIPT), run_name="settings_table")


def test_readme_table_equals_the_generated_one():
    tool = script()
    readme = README.read_text(encoding="utf-8")
    assert readme.count(tool["START"]) == 1 and readme.count(tool["END"]) == 1
    assert tool["current_table"](readme) == tool["render"](), (
        "README.md is out of date: run scripts/settings-table --write"
    )


def test_every_setting_has_a_row_with_help():
    table = script()["render"]()
    rows = table.splitlines()[2:]
    assert len(rows) == len(fields(Settings))
    for f in fields(Settings):
        assert f.metadata["env"].startswith("CONNECT_")
        assert f.metadata["help"].strip(), f.name
        assert f"| `{f.metadata['env']}` |" in table


def test_the_script_runs_and_checks(tmp_path):
    assert os.access(SCRIPT, os.X_OK)
    printed = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=30
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == script()["render"]()
    checked = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_rewrite_replaces_only_the_table():
    tool = script()
    before = f"# Title\n\n{tool['START']}\nold | table\n{tool['END']}\n\nAfter.\n"
    after = tool["replace_table"](before, tool["render"]())
    assert after.startswith(f"# Title\n\n{tool['START']}\n| variable | default | meaning |")
    assert after.endswith(f"{tool['END']}\n\nAfter.\n")
    assert tool["replace_table"](after, tool["render"]()) == after
