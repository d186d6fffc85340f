"""Imports every domain's tables so that Base.metadata knows the whole schema."""

from connect.accounts.models import PasswordReset, Token, User
from connect.boards.models import (
    Post,
    PostRevision,
    Recommendation,
    Subscription,
    Thread,
    ThreadRead,
)
from connect.communities.models import Community, Membership
from connect.db import Base
from connect.events import ConsumerCursor, Event
from connect.library.models import Entry, FileText, FileVersion, Folder, LibraryFile
from connect.members.models import Profile
from connect.messages.models import Conversation, Message, Participant
from connect.moderation.models import AuditEntry, Flag, Sanction, SiteSetting
from connect.network.models import Block, Contact
from connect.notifications.models import DigestRun, Notification, OutgoingMail

__all__ = [
    "Block",
    "Contact",
    "Conversation",
    "Message",
    "Participant",
    "AuditEntry",
    "Flag",
    "Sanction",
    "SiteSetting",
    "DigestRun",
    "Entry",
    "FileText",
    "FileVersion",
    "Folder",
    "LibraryFile",
    "Notification",
    "OutgoingMail",
    "Post",
    "PostRevision",
    "Recommendation",
    "Subscription",
    "Thread",
    "ThreadRead",
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
