"""Operations of moderation, and the live socket."""

from __future__ import annotations

from connect.openapi.op import Op, P
from connect.openapi.schemas import (
    BOOL,
    ID,
    INT,
    PAGE,
    STR,
    STR_OR_NULL,
    TIME,
    TIME_OR_NULL,
    listing,
    obj,
    query,
    ref,
)

REASON = obj(None, reason=STR)  # an optional reason, kept in the audit log
FLAG = obj(
    ["reason"],
    reason={"type": "string", "enum": ["spam", "abuse", "off_topic", "other"]},
    note=STR,
)
FLAGGED = obj(["id", "reason", "hidden"], id=ID, reason=STR, hidden=BOOL)
ENTRY_STATUS = obj(["id", "status"], id=ID, status=STR)

# A queued message as administrators see it (never its body).
MAIL = obj(
    ["id", "to", "subject", "queued_at", "attempts", "last_error", "failed_at", "sent_at"],
    id=ID,
    to=STR,
    subject=STR,
    queued_at=TIME,
    attempts=INT,
    last_error=STR_OR_NULL,
    failed_at=TIME_OR_NULL,
    sent_at=TIME_OR_NULL,
    next_attempt_at=TIME_OR_NULL,
    notice={
        "type": "boolean",
        "description": "A notice of members' posts or a digest: never sent again once failed.",
    },
)

OPERATIONS: dict[tuple[str, str], Op] = {
    # Moderation (connect/moderation/api.py; answers described loosely while it settles)
    ("GET", P + "/moderation/queue"): Op(
        "Held and flagged items, join requests",
        "moderation",
        answer=listing({"type": "object"}, counts={"type": "object"}),
        auth="required",
        params=[query("community", STR), query("kind", STR), *PAGE],
    ),
    ("POST", P + "/moderation/items/{kind}/{item_id}/approve"): Op(
        "Approve a held thread, post or entry",
        "moderation",
        answer={"type": "object"},
        auth="required",
        body=obj(None, title=STR, body=STR, reason=STR),
        body_required=False,
    ),
    ("POST", P + "/moderation/items/{kind}/{item_id}/reject"): Op(
        "Reject a held item; the author is told why",
        "moderation",
        answer={"type": "object"},
        auth="required",
        body=REASON,
        body_required=False,
    ),
    ("POST", P + "/moderation/bulk"): Op(
        "Approve or reject several items",
        "moderation",
        answer=obj(["results"], results={"type": "array"}),
        auth="required",
        body=obj(
            ["action", "items"],
            action={"type": "string", "enum": ["approve", "reject"]},
            items={"type": "array", "items": {"type": "object"}},
            reason=STR,
        ),
    ),
    ("GET", P + "/moderation/log"): Op(
        "Every moderator action: who, what, when, why",
        "moderation",
        answer=listing({"type": "object"}),
        auth="required",
        params=[query("community", STR), *PAGE],
    ),
    ("GET", P + "/moderation/limits"): Op(
        "The site's posting limits",
        "moderation",
        answer=obj(["limits"], limits={"type": "object"}, defaults={"type": "object"}),
        auth="required",
    ),
    ("PUT", P + "/moderation/limits"): Op(
        "Change the site's posting limits (admins)",
        "moderation",
        answer=obj(["limits"], limits={"type": "object"}, defaults={"type": "object"}),
        auth="required",
        body=obj(None, limits={"type": "object"}),
    ),
    ("GET", P + "/moderation/sanctions"): Op(
        "Site-wide sanctions (suspensions)",
        "moderation",
        answer=listing({"type": "object"}),
        auth="required",
        params=[query("all", {"type": "string", "enum": ["1", "true", "0", "false"]}), *PAGE],
    ),
    ("POST", P + "/moderation/sanctions/{sanction_id}/lift"): Op(
        "Lift a sanction",
        "moderation",
        answer={"type": "object"},
        auth="required",
        body=REASON,
        body_required=False,
    ),
    ("POST", P + "/posts/{post_id}/hide"): Op(
        "Hide a post (moderators)",
        "moderation",
        answer=ref("Post"),
        auth="required",
        body=REASON,
        body_required=False,
    ),
    ("POST", P + "/posts/{post_id}/restore"): Op(
        "Restore a hidden post",
        "moderation",
        answer=ref("Post"),
        auth="required",
        body=REASON,
        body_required=False,
    ),
    ("POST", P + "/posts/{post_id}/flags"): Op(
        "Flag a post",
        "moderation",
        ok=201,
        answer=FLAGGED,
        auth="required",
        body=FLAG,
    ),
    ("POST", P + "/library/entries/{entry_id}/hide"): Op(
        "Hide a library entry (moderators)",
        "moderation",
        answer=ENTRY_STATUS,
        auth="required",
        body=REASON,
        body_required=False,
    ),
    ("POST", P + "/library/entries/{entry_id}/restore"): Op(
        "Restore a hidden library entry",
        "moderation",
        answer=ENTRY_STATUS,
        auth="required",
        body=REASON,
        body_required=False,
    ),
    ("POST", P + "/library/entries/{entry_id}/flags"): Op(
        "Flag a library entry",
        "moderation",
        ok=201,
        answer=FLAGGED,
        auth="required",
        body=FLAG,
    ),
    ("POST", P + "/threads/{thread_id}/move"): Op(
        "Move a thread to another community",
        "moderation",
        answer=ref("Thread"),
        auth="required",
        body=obj(["community"], community=STR, reason=STR),
    ),
    ("POST", P + "/threads/{thread_id}/merge"): Op(
        "Merge a thread into another",
        "moderation",
        answer=ref("Thread"),
        auth="required",
        body=obj(["into"], into=ID, reason=STR),
    ),
    ("POST", P + "/threads/{thread_id}/split"): Op(
        "Split posts off into a new thread",
        "moderation",
        ok=201,
        answer=ref("Thread"),
        auth="required",
        body=obj(
            ["post_ids", "title"], post_ids={"type": "array", "items": ID}, title=STR, reason=STR
        ),
    ),
    ("POST", P + "/communities/{slug}/bans"): Op(
        "Ban a member from a community",
        "moderation",
        ok=201,
        answer={"type": "object"},
        auth="required",
        body=obj(["username", "reason"], username=STR, reason=STR, until=STR_OR_NULL),
    ),
    ("DELETE", P + "/communities/{slug}/bans/{username}"): Op(
        "Lift a community ban", "moderation", answer={"type": "object"}, auth="required"
    ),
    ("GET", P + "/communities/{slug}/sanctions"): Op(
        "A community's sanctions",
        "moderation",
        answer=listing({"type": "object"}),
        auth="required",
        params=[query("all", {"type": "string", "enum": ["1", "true", "0", "false"]}), *PAGE],
    ),
    ("POST", P + "/communities/{slug}/sanctions"): Op(
        "Sanction a member in a community",
        "moderation",
        ok=201,
        answer={"type": "object"},
        auth="required",
        body=obj(
            ["username", "kind", "reason"], username=STR, kind=STR, reason=STR, until=STR_OR_NULL
        ),
    ),
    ("POST", P + "/members/{username}/suspend"): Op(
        "Suspend a member (site moderators and admins)",
        "moderation",
        ok=201,
        answer={"type": "object"},
        auth="required",
        body=obj(["reason"], reason=STR, until=STR_OR_NULL),
    ),
    ("DELETE", P + "/members/{username}/suspension"): Op(
        "Lift a suspension", "moderation", answer={"type": "object"}, auth="required"
    ),
    ("POST", P + "/members/{username}/sanctions"): Op(
        "Sanction a member site-wide",
        "moderation",
        ok=201,
        answer={"type": "object"},
        auth="required",
        body=obj(["kind", "reason"], kind=STR, reason=STR, until=STR_OR_NULL),
    ),
    ("GET", P + "/moderation/staff"): Op(
        "The site's administrators and moderators (administrators only)",
        "moderation",
        answer=listing(ref("Member")),
        auth="required",
    ),
    ("PUT", P + "/members/{username}/site-role"): Op(
        "Appoint a member site moderator or administrator, or make them a member again "
        "(administrators only; the last administrator stays one: 409)",
        "moderation",
        answer=ref("Member"),
        auth="required",
        body=obj(
            ["role"],
            role={"type": "string", "enum": ["member", "moderator", "admin"]},
            reason=STR,
        ),
    ),
    ("GET", P + "/moderation/mail"): Op(
        "The outgoing mail queue: how many messages wait, since when, how many failed in the "
        "last 7 days, and the failed messages, the latest first (administrators only)",
        "moderation",
        answer=listing(
            MAIL,
            waiting=INT,
            oldest_waiting_at=TIME_OR_NULL,
            failed_last_7_days=INT,
        ),
        auth="required",
        params=PAGE,
    ),
    ("POST", P + "/moderation/mail/{mail_id}/retry"): Op(
        "Send a failed message again, now (administrators only; 409 when it has not failed)",
        "moderation",
        answer=MAIL,
        auth="required",
    ),
    ("GET", P + "/me/sanctions"): Op(
        "Your standing: sanctions in force",
        "moderation",
        answer=listing({"type": "object"}),
        auth="required",
    ),
    # Live
    ("GET", P + "/live"): Op(
        "WebSocket: live events (see api.md, Live updates)",
        "live",
        ok=101,
        params=[query("token", STR, "A bearer token, for clients that cannot send headers.")],
    ),
}
