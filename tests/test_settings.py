"""Settings: a CONNECT_* value that cannot work stops every command with one line naming it."""

from __future__ import annotations

import pytest

from connect.settings import Settings
from tests.test_cli import assert_no_traceback, connect

REFUSED = [
    ("CONNECT_LOG_LEVEL", "verbose", "one of debug, info, warning, error"),
    ("CONNECT_DATABASE_URL", "mysql://x", "sqlite+aiosqlite:// or postgresql+asyncpg://"),
    ("CONNECT_DATABASE_URL", "garbage", "postgresql+asyncpg://"),
    ("CONNECT_REDIS_URL", "http://127.0.0.1:6379", "redis://"),
    ("CONNECT_SMTP_URL", "smtp://mail.example.org:notaport", "not a usable address"),
    ("CONNECT_SMTP_URL", "smtp://", "names no host"),
    ("CONNECT_BASE_URL", "connect.example.org", "http:// or https://"),
    ("CONNECT_MAIL_FROM", "Connect", "an address like"),
    ("CONNECT_SESSION_DAYS", "0", "at least 1"),
    ("CONNECT_MAX_UPLOAD_MB", "-5", "at least 1"),
    ("CONNECT_PAGE_CACHE_MB", "-1", "at least 0"),
    ("CONNECT_SEARCH_PROCESSES", "-2", "at least 0"),
    ("CONNECT_LIVE_REPLAY_EVENTS", "-1", "at least 0"),
    ("CONNECT_NEW_CONVERSATIONS_PER_DAY", "-3", "at least 0"),
    ("CONNECT_EVENT_RETENTION_DAYS", "0", "at least 1"),
    ("CONNECT_PASSWORD_HASH_THREADS", "0", "at least 1"),
    ("CONNECT_MAIL_GIVE_UP_AFTER", "0", "at least 1"),
    ("CONNECT_MAIL_GIVE_UP_AFTER", "3 days", "expected a whole number"),
]


@pytest.mark.parametrize(("name", "value", "said"), REFUSED)
def test_a_value_that_cannot_work_is_refused_by_name(name, value, said):
    with pytest.raises(ValueError) as refused:
        Settings.from_env({name: value})
    message = str(refused.value)
    assert message.startswith(f"{name}: ") and said in message and repr(value) in message


def test_values_that_work_are_taken():
    settings = Settings.from_env(
        {
            "CONNECT_LOG_LEVEL": "WARNING",
            "CONNECT_DATABASE_URL": "postgresql+asyncpg://connect:pw@127.0.0.1:5432/connect",
            "CONNECT_REDIS_URL": "redis://127.0.0.1:6379/0",
            "CONNECT_SMTP_URL": "smtps://user:pw@mail.example.org:465",
            "CONNECT_BASE_URL": "https://connect.example.org",
            "CONNECT_MAIL_FROM": "Our Association <connect@example.org>",
            "CONNECT_PAGE_CACHE_MB": "0",
            "CONNECT_SEARCH_PROCESSES": "0",
            "CONNECT_MAIL_GIVE_UP_AFTER": "120",
        }
    )
    assert settings.log_level == "WARNING" and settings.search_processes == 0
    assert settings.mail_give_up_after == 120 and Settings().mail_give_up_after == 72


def test_every_command_stops_with_the_variable_named(tmp_path):
    for command in (["check"], ["migrate"]):
        result = connect(tmp_path / "var", *command, CONNECT_LOG_LEVEL="verbose")
        assert result.returncode != 0
        assert "CONNECT_LOG_LEVEL: expected one of" in result.output
        assert_no_traceback(result)
    result = connect(tmp_path / "var", "check", CONNECT_DATABASE_URL="garbage")
    assert result.returncode != 0 and "CONNECT_DATABASE_URL" in result.output
    assert_no_traceback(result)
