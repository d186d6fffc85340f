"""Imports every domain's tables so that Base.metadata knows the whole schema."""

from connect.accounts.models import PasswordReset, Token, User
from connect.communities.models import Community, Membership
from connect.db import Base
from connect.events import ConsumerCursor, Event
from connect.members.models import Profile

__all__ = [
    "Base",
    "Community",
    "ConsumerCursor",
    "Event",
    "Membership",
    "PasswordReset",
    "Profile",
    "Token",
    "User",
]
