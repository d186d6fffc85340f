"""Every setting in one place: its CONNECT_* variable, its default and one line of help."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOG_LEVELS = ("debug", "info", "warning", "error")


def _setting(env: str, default: Any, help: str, *, least: int | None = None, check=None) -> Any:
    """A setting; `least` bounds a number from below, `check(value)` names what is wrong."""
    return field(
        default=default, metadata={"env": env, "help": help, "least": least, "check": check}
    )


def _url(*schemes: str, host: bool = True):
    def check(value: str) -> str | None:
        if not value:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (a port that is not a number raises)
        except ValueError as exc:
            return f"not a usable address ({exc})"
        if parts.scheme not in schemes:
            return f"expected a URL starting with {' or '.join(s + '://' for s in schemes)}"
        if host and not parts.hostname:
            return "the URL names no host"
        return None

    return check


def _mail_from(value: str) -> str | None:
    return None if "@" in parseaddr(value)[1] else "expected an address like Connect <x@y.org>"


def _log_level(value: str) -> str | None:
    return None if value.lower() in LOG_LEVELS else f"expected one of {', '.join(LOG_LEVELS)}"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(
        "CONNECT_DATA_DIR",
        Path("./var"),
        "Folder for the SQLite database, search index, uploaded files and outgoing mail.",
    )
    database_url: str = _setting(
        "CONNECT_DATABASE_URL",
        "",
        "SQLAlchemy URL; empty means sqlite+aiosqlite:///<data dir>/connect.db.",
        check=_url("sqlite+aiosqlite", "postgresql+asyncpg", host=False),
    )
    redis_url: str = _setting(
        "CONNECT_REDIS_URL",
        "",
        "Redis URL for cross-process live updates; empty: in-process.",
        check=_url("redis", "rediss", "unix", host=False),
    )
    secret_key: str = _setting(
        "CONNECT_SECRET_KEY",
        "",
        "Key that signs tokens and links; empty: generated once into <data dir>/secret_key.",
    )
    smtp_url: str = _setting(
        "CONNECT_SMTP_URL",
        "",
        "smtp://user:pass@host:port (STARTTLS when the server offers it; smtps:// for TLS "
        "from the start); empty: mail is written as .eml files.",
        check=_url("smtp", "smtps"),
    )
    mail_from: str = _setting(
        "CONNECT_MAIL_FROM",
        "Connect <connect@localhost>",
        "Sender address of outgoing mail.",
        check=_mail_from,
    )
    mail_give_up_after: int = _setting(
        "CONNECT_MAIL_GIVE_UP_AFTER",
        72,
        "Hours a message the mail server keeps deferring (4xx, no connection) is retried "
        "before it is marked failed; a permanent refusal (5xx) fails it at once.",
        least=1,
    )
    max_upload_mb: int = _setting(
        "CONNECT_MAX_UPLOAD_MB", 25, "Largest accepted upload, in megabytes.", least=1
    )
    base_url: str = _setting(
        "CONNECT_BASE_URL",
        "http://127.0.0.1:8000",
        "Public address of the site; also the allowed WebSocket Origin.",
        check=_url("http", "https"),
    )
    run_workers: bool = _setting(
        "CONNECT_RUN_WORKERS",
        True,
        "1: `connect serve` runs the event consumers in a worker process of its own; "
        "0: a separately started `connect worker` runs them.",
    )
    rate_limits: bool = _setting(
        "CONNECT_RATE_LIMITS", True, "off turns posting and sign-in limits off (imports)."
    )
    site_name: str = _setting("CONNECT_SITE_NAME", "Connect", "Name shown in pages and mail.")
    session_days: int = _setting(
        "CONNECT_SESSION_DAYS", 14, "How long a browser session lasts without activity.", least=1
    )
    password_hash_threads: int = _setting(
        "CONNECT_PASSWORD_HASH_THREADS",
        2,
        "How many password hashes may run at once (each takes ~50 MB and ~50 ms).",
        least=1,
    )
    live_replay_events: int = _setting(
        "CONNECT_LIVE_REPLAY_EVENTS",
        10_000,
        "How far back a reconnecting live client may resume before it must resync.",
        least=0,
    )
    event_retention_days: int = _setting(
        "CONNECT_EVENT_RETENTION_DAYS",
        30,
        "Events older than this, once every consumer passed them, are pruned.",
        least=1,
    )
    contact_requests_per_day: int = _setting(
        "CONNECT_CONTACT_REQUESTS_PER_DAY",
        50,
        "Contact requests a member may send in 24 hours (site staff are not limited).",
        least=0,
    )
    new_conversations_per_day: int = _setting(
        "CONNECT_NEW_CONVERSATIONS_PER_DAY",
        20,
        "Private conversations a member may start in 24 hours (site staff are not limited).",
        least=0,
    )
    page_cache_mb: int = _setting(
        "CONNECT_PAGE_CACHE_MB",
        32,
        "Memory per server process for thread and board pages shown to readers who are not "
        "signed in, kept until anything is written (0 turns it off).",
        least=0,
    )
    post_cache_mb: int = _setting(
        "CONNECT_POST_CACHE_MB",
        64,
        "Memory per server process for posts as thread pages render them, kept by everything "
        "they show, so that a change is never served stale (0 turns it off).",
        least=0,
    )
    read_cache_mb: int = _setting(
        "CONNECT_READ_CACHE_MB",
        128,
        "Memory per server process for what every reader of a thread or board page shares "
        "(its posts or threads), kept until anything is written (0 turns it off).",
        least=0,
    )
    search_processes: int = _setting(
        "CONNECT_SEARCH_PROCESSES",
        1,
        "Processes per server process that run search queries, off its event loop and GIL "
        "(each keeps its own index caches); 0 runs them in threads of the server process.",
        least=0,
    )
    log_level: str = _setting(
        "CONNECT_LOG_LEVEL", "info", "debug, info, warning or error.", check=_log_level
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read CONNECT_* variables; keyword overrides win (tests use them)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or f.name in overrides:
                continue
            values[f.name] = _parse(f.metadata, raw, f.default)
        values.update(overrides)
        return cls(**values).resolved()

    def resolved(self) -> Settings:
        data_dir = Path(self.data_dir).expanduser().resolve()
        database_url = self.database_url or f"sqlite+aiosqlite:///{data_dir / 'connect.db'}"
        return replace(
            self,
            data_dir=data_dir,
            database_url=database_url,
            base_url=self.base_url.rstrip("/"),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def path(self, *parts: str) -> Path:
        return self.data_dir.joinpath(*parts)

    def ensure_data_dir(self) -> None:
        for sub in ("", "files", "mail", "index"):
            self.path(sub).mkdir(parents=True, exist_ok=True)

    def load_secret_key(self) -> str:
        """The configured key, or the one generated into the data folder on first use."""
        if self.secret_key:
            return self.secret_key
        key_file = self.path("secret_key")
        if not key_file.exists():
            self.ensure_data_dir()
            tmp = key_file.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
            os.replace(tmp, key_file)
        return key_file.read_text().strip()


def _parse(metadata: dict, raw: str, default: Any) -> Any:
    """The value of one CONNECT_* variable, or ValueError naming the variable."""
    name = metadata["env"]
    value = _convert(name, raw, default)
    least = metadata.get("least")
    if least is not None and value < least:
        raise ValueError(f"{name}: expected a whole number of at least {least}; got {raw!r}")
    problem = metadata["check"](value) if metadata.get("check") else None
    if problem:
        raise ValueError(f"{name}: {problem}; got {raw!r}")
    return value


def _convert(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{name}: expected 1/0, on/off, true/false; got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{name}: expected a whole number; got {raw!r}") from None
    if isinstance(default, Path):
        return Path(raw)
    return raw


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, help) rows for the README's configuration table."""
    rows = []
    for f in fields(Settings):
        default = f.default
        if isinstance(default, bool):
            shown = "1" if default else "0"
        elif default == "":
            shown = "(unset)"
        else:
            shown = str(default)
        rows.append((f.metadata["env"], shown, f.metadata["help"]))
    return rows
