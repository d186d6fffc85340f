"""Members' notification preferences: how each kind of news reaches them."""

from __future__ import annotations

from connect.accounts.models import User
from connect.errors import Invalid
from connect.notifications.models import EMAIL_MODES

PREFERENCES = {
    "subscription_mode": ("real_time", "digest", "in_app"),
    "email_replies": EMAIL_MODES,
    "email_messages": EMAIL_MODES,
}
DEFAULT_PREFERENCES = {
    "subscription_mode": "real_time",
    "email_replies": "real_time",
    "email_messages": "real_time",
}


def preferences_of(user: User) -> dict:
    return with_defaults(user.profile.preferences if user.profile else None)


def with_defaults(stored: dict | None) -> dict:
    stored = stored or {}
    return {k: stored.get(k, v) for k, v in DEFAULT_PREFERENCES.items()}


def clean_preferences(values: dict) -> dict:
    problems = {
        k: f"One of: {', '.join(PREFERENCES[k])}." if k in PREFERENCES else "Not a preference."
        for k, v in values.items()
        if k not in PREFERENCES or v not in PREFERENCES[k]
    }
    if problems:
        raise Invalid("Some preferences need another look.", fields=problems)
    return values
