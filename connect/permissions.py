"""The policy: who may see, read, join, post in and moderate what.

Pure functions over a `Viewer` (the signed-in user and their memberships) and
the resource; every page, API answer, search result and live event asks here.
A private thing the viewer may not see must look absent (404), never forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, false, or_, true

from connect.accounts.models import User
from connect.communities.models import Community
from connect.db import utcnow


@dataclass(frozen=True)
class Role:
    role: str  # member / moderator / owner
    status: str  # active / pending / invited


@dataclass(frozen=True)
class ActiveSanction:
    """A sanction in force, as the viewer carries it (connect.moderation.models.Sanction)."""

    id: int
    kind: str  # ban / require_approval / flag_bar (suspensions live on the user row)
    community_id: int | None  # None: site-wide
    reason: str
    ends_at: datetime | None  # None: permanent


@dataclass
class Viewer:
    user: User | None = None
    memberships: dict[int, Role] = field(default_factory=dict)
    now: datetime = field(default_factory=utcnow)
    # Sanctions in force (the defaults: none). Built from `sanctions` by with_sanctions().
    sanctions: tuple[ActiveSanction, ...] = ()
    banned_in: set[int] = field(default_factory=set)
    require_approval_in: set[int] = field(default_factory=set)
    require_approval_everywhere: bool = False
    flag_barred_in: set[int] = field(default_factory=set)
    flag_barred_everywhere: bool = False

    @property
    def signed_in(self) -> bool:
        return self.user is not None

    @property
    def id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def suspended(self) -> bool:
        return self.user is not None and self.user.is_suspended(self.now)

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin and not self.suspended

    @property
    def is_site_moderator(self) -> bool:
        return self.user is not None and self.user.is_site_moderator and not self.suspended

    def role_in(self, community: Community) -> str | None:
        """The active role in the community, or None."""
        m = self.memberships.get(community.id)
        return m.role if m and m.status == "active" else None

    def status_in(self, community: Community) -> str | None:
        m = self.memberships.get(community.id)
        return m.status if m else None

    def active_community_ids(self) -> list[int]:
        return [cid for cid, m in self.memberships.items() if m.status == "active"]

    @property
    def moderates_any(self) -> bool:
        """Whether the viewer moderates some community (the header's Moderation link)."""
        if self.is_site_moderator:
            return True
        return not self.suspended and any(
            m.status == "active" and m.role in ("moderator", "owner")
            for m in self.memberships.values()
        )

    def sanction_in(self, community_id: int | None, kind: str) -> ActiveSanction | None:
        """The sanction of this kind that applies in the community (its own or site-wide)."""
        for sanction in self.sanctions:
            if sanction.kind == kind and sanction.community_id in (community_id, None):
                return sanction
        return None


def with_sanctions(viewer: Viewer, sanctions: list[ActiveSanction]) -> Viewer:
    """The viewer carrying these sanctions in force, with the sets the checks below read."""
    viewer.sanctions = tuple(sanctions)
    for s in sanctions:
        if s.kind == "ban" and s.community_id is not None:
            viewer.banned_in.add(s.community_id)
        elif s.kind == "require_approval":
            if s.community_id is None:
                viewer.require_approval_everywhere = True
            else:
                viewer.require_approval_in.add(s.community_id)
        elif s.kind == "flag_bar":
            if s.community_id is None:
                viewer.flag_barred_everywhere = True
            else:
                viewer.flag_barred_in.add(s.community_id)
    return viewer


ANONYMOUS = Viewer()


# Communities -----------------------------------------------------------------


def can_see_community(viewer: Viewer, community: Community) -> bool:
    """Whether the community exists for this viewer at all (else: 404)."""
    if community.visibility != "private":
        return True
    if viewer.is_site_moderator:
        return True
    return viewer.status_in(community) in ("active", "invited")


def can_read_community(viewer: Viewer, community: Community) -> bool:
    """Whether the viewer may read its board, library and member list."""
    if community.visibility == "open":
        return True
    if viewer.suspended:
        return False
    return viewer.is_site_moderator or viewer.role_in(community) is not None


def is_archived(community: Community) -> bool:
    """An archived community is read as before but takes no new content or members:
    no threads, replies, edits, recommendations, uploads, joins or invitations. Flags and
    moderators' removals still work, so what is kept can be cleaned up."""
    return community.archived_at is not None


def can_archive(viewer: Viewer, community: Community) -> bool:
    """Archive or unarchive: site admins and the community's owners (not its moderators,
    not site moderators: closing a community is its owners' decision)."""
    if viewer.is_admin:
        return True
    return not viewer.suspended and viewer.role_in(community) == "owner"


def can_join(viewer: Viewer, community: Community) -> bool:
    """Join at once (open) or ask to (closed); private needs an invitation. Not when banned."""
    if not viewer.signed_in or viewer.suspended or viewer.role_in(community):
        return False
    if is_archived(community):
        return False
    if community.id in viewer.banned_in:
        return False
    if community.visibility == "private":
        return viewer.status_in(community) == "invited"
    return True


def can_leave(viewer: Viewer, community: Community) -> bool:
    return viewer.signed_in and viewer.status_in(community) is not None


def can_post(viewer: Viewer, community: Community) -> bool:
    """Start threads, reply and upload: members (and site moderators), unless banned there."""
    if not viewer.signed_in or viewer.suspended or community.id in viewer.banned_in:
        return False
    if is_archived(community):
        return False
    return viewer.role_in(community) is not None or viewer.is_site_moderator


def can_recommend(viewer: Viewer, community: Community) -> bool:
    """Recommend posts the viewer can read: not when suspended or banned there."""
    if is_archived(community):
        return False
    return viewer.signed_in and not viewer.suspended and community.id not in viewer.banned_in


def can_moderate(viewer: Viewer, community: Community) -> bool:
    if viewer.is_site_moderator:
        return True
    if viewer.suspended:
        return False
    return viewer.role_in(community) in ("moderator", "owner")


def can_manage(viewer: Viewer, community: Community) -> bool:
    """Change the community's settings: its owners, moderators and site admins.

    Not site moderators: they moderate content everywhere, but settings such as
    visibility decide who reads a community (private to open would expose it).
    """
    if viewer.is_admin:
        return True
    if viewer.suspended:
        return False
    return viewer.role_in(community) in ("moderator", "owner")


def can_create_community(viewer: Viewer) -> bool:
    return viewer.is_admin


def can_set_role(viewer: Viewer, community: Community, *, current: str | None, new: str) -> bool:
    """Add, approve, promote or demote a member.

    Moderators add and approve plain members; owners and site admins set any role.
    An archived community takes no new members, but roles of members may still change.
    """
    if current is None and is_archived(community):
        return False
    if viewer.is_admin or viewer.role_in(community) == "owner":
        return True
    if not can_moderate(viewer, community):
        return False
    return new == "member" and current in (None, "member")


def can_invite(viewer: Viewer, community: Community) -> bool:
    return can_moderate(viewer, community) and not is_archived(community)


def can_remove_member(viewer: Viewer, community: Community, *, role: str) -> bool:
    if viewer.is_admin or viewer.role_in(community) == "owner":
        return True
    return can_moderate(viewer, community) and role == "member"


def readable_communities_clause(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on Community for the communities whose content the viewer may read."""
    if viewer.is_site_moderator:
        return true()
    ids = [] if viewer.suspended else viewer.active_community_ids()
    if not ids:
        return Community.visibility == "open"
    return or_(Community.visibility == "open", Community.id.in_(ids))


def visible_communities_clause(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on Community for those listed to the viewer in the directory."""
    if viewer.is_site_moderator:
        return true()
    ids = [cid for cid, m in viewer.memberships.items() if m.status in ("active", "invited")]
    if not ids:
        return Community.visibility != "private"
    return or_(Community.visibility != "private", Community.id.in_(ids))


# Members ---------------------------------------------------------------------


def can_edit_profile(viewer: Viewer, user: User) -> bool:
    if not viewer.signed_in:
        return False
    return viewer.id == user.id or viewer.is_admin


def can_see_private_fields(viewer: Viewer, user: User) -> bool:
    """Email, preferences and hidden profile fields: the member and site admins."""
    return can_edit_profile(viewer, user)


def visible_profile_fields(viewer: Viewer, user: User, public_fields: list[str]) -> set[str]:
    from connect.members.models import PROFILE_FIELDS

    if can_see_private_fields(viewer, user):
        return set(PROFILE_FIELDS)
    return set(public_fields) & set(PROFILE_FIELDS)


def can_view_directory(viewer: Viewer) -> bool:
    return True


def never() -> ColumnElement[bool]:
    return false()


# Discussion boards -------------------------------------------------------------


def can_see_post(
    viewer: Viewer, community: Community, *, status: str, author_id: int | None
) -> bool:
    """Whether a post (or thread) shows its content to the viewer.

    Deleted posts show as a "removed" placeholder to readers, never their text.
    """
    if not can_read_community(viewer, community):
        return False
    if status == "published":
        return True
    if status == "pending":
        return (viewer.signed_in and viewer.id == author_id) or can_moderate(viewer, community)
    if status == "hidden":
        return can_moderate(viewer, community)
    return False


def can_reply(viewer: Viewer, community: Community, *, locked: bool) -> bool:
    if not can_post(viewer, community):
        return False
    return not locked or can_moderate(viewer, community)


def can_edit_post(viewer: Viewer, community: Community, *, author_id: int | None) -> bool:
    if is_archived(community):
        return False
    if can_moderate(viewer, community):
        return True
    if community.id in viewer.banned_in:
        return False
    return viewer.signed_in and viewer.id == author_id and not viewer.suspended


def can_delete_post(viewer: Viewer, community: Community, *, author_id: int | None) -> bool:
    """Authors and moderators; in an archived community moderators only."""
    if is_archived(community):
        return can_moderate(viewer, community)
    return can_edit_post(viewer, community, author_id=author_id)


def held_for_approval(viewer: Viewer, community: Community, *, published_before: bool) -> bool:
    """Whether the viewer's new post in this community waits for a moderator."""
    if can_moderate(viewer, community):
        return False
    if viewer.require_approval_everywhere or community.id in viewer.require_approval_in:
        return True
    if community.moderation == "all":
        return True
    return community.moderation == "new_members" and not published_before


def visible_status_clause(viewer: Viewer, community: Community, status_column, author_column):
    """SQL condition: the posts or threads of a community the viewer may see listed."""
    if can_moderate(viewer, community):
        return status_column.in_(("published", "pending", "hidden"))
    if viewer.signed_in:
        return or_(
            status_column == "published",
            (status_column == "pending") & (author_column == viewer.id),
        )
    return status_column == "published"


# Document libraries --------------------------------------------------------------


def can_see_entry(
    viewer: Viewer, community: Community, *, status: str, author_id: int | None
) -> bool:
    """Whether a library entry (its page, files and text) shows to the viewer; like posts."""
    return can_see_post(viewer, community, status=status, author_id=author_id)


def can_add_to_library(viewer: Viewer, community: Community) -> bool:
    """Upload entries and make folders: whoever may post in the community."""
    return can_post(viewer, community)


def can_edit_entry(viewer: Viewer, community: Community, *, author_id: int | None) -> bool:
    """Change an entry, upload new versions or delete it: its author (still a member)
    and the community's moderators."""
    if is_archived(community):
        return False
    if can_moderate(viewer, community):
        return True
    return viewer.signed_in and viewer.id == author_id and can_post(viewer, community)


def can_delete_entry(viewer: Viewer, community: Community, *, author_id: int | None) -> bool:
    """Who may edit it; in an archived community moderators only."""
    if is_archived(community):
        return can_moderate(viewer, community)
    return can_edit_entry(viewer, community, author_id=author_id)


# Moderation ------------------------------------------------------------------------


def can_flag(viewer: Viewer, community: Community, *, status: str, author_id: int | None) -> bool:
    """Report a post or entry: any signed-in member who can read it, except its author,
    the suspended, those banned in the community and those barred from flagging."""
    if not viewer.signed_in or viewer.suspended or viewer.id == author_id:
        return False
    if status != "published" or not can_see_post(viewer, community, status=status, author_id=None):
        return False
    if community.id in viewer.banned_in:
        return False
    return not (viewer.flag_barred_everywhere or community.id in viewer.flag_barred_in)


def can_suspend(viewer: Viewer) -> bool:
    """Site suspensions and site-wide marks: site moderators and admins."""
    return viewer.is_site_moderator


def can_read_site_log(viewer: Viewer) -> bool:
    """The site-wide rows of the moderation log (suspensions, site settings)."""
    return viewer.is_site_moderator


# Who hears of an event (Event.audience, read by the live hub), from the widest to the narrowest.
AUDIENCES = ("public", "members", "author", "moderators")


def event_audience(community: Community, *statuses: str) -> str:
    """Who may hear of an event about content with these statuses (a post and its thread):
    the narrowest any of them calls for, so a reply in a hidden thread is as hidden as it."""
    widest = "public" if community.visibility == "open" else "members"
    narrowed = {"pending": "author", "hidden": "moderators"}
    return max((narrowed.get(s, widest) for s in statuses), key=AUDIENCES.index, default=widest)


def can_set_site_limits(viewer: Viewer) -> bool:
    return viewer.is_admin


def can_set_site_role(viewer: Viewer) -> bool:
    return viewer.is_admin


def can_manage_mail(viewer: Viewer) -> bool:
    """The outgoing mail queue (recipients' addresses, failures, retrying): administrators."""
    return viewer.is_admin


# -- the network: contacts and private messages (connect.network.relations.Relation) --


def _policy_allows(policy: str, relation) -> bool:
    if policy == "contacts":
        return relation.contacts
    if policy == "communities":
        return relation.contacts or relation.shared_communities > 0
    return True  # "anyone"


def can_request_contact(viewer: Viewer, other: User, relation, *, policy: str) -> bool:
    """Ask `other` to connect: not oneself, not blocked either way, within their policy.

    Only when the two have no contact row yet (an answer to their request is not a new
    request: connect.network.service accepts it). Under a "contacts" policy nobody new may ask.
    """
    if not viewer.signed_in or viewer.suspended or viewer.id == other.id or other.is_deleted:
        return False
    if relation.blocked or relation.contact is not None:
        return False
    return _policy_allows(policy, relation)


def can_message(viewer: Viewer, other: User, relation, *, policy: str) -> bool:
    """Start a conversation with (or add to one) `other`: never across a block."""
    if not viewer.signed_in or viewer.suspended or viewer.id == other.id or other.is_deleted:
        return False
    if relation.blocked or other.is_suspended(viewer.now):
        return False
    return _policy_allows(policy, relation)


def can_report_conversation(viewer: Viewer, *, was_participant: bool) -> bool:
    """Those who are or were in a conversation may report it: someone harassed often
    leaves first and reports later."""
    return viewer.signed_in and was_participant


def can_read_reported_conversation(viewer: Viewer, *, reported: bool) -> bool:
    """Site moderators read a conversation only after a participant reported it."""
    return reported and viewer.is_site_moderator
