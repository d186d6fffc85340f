"""What each /api/v1 operation takes, answers and requires (OPERATIONS)."""

from __future__ import annotations

from dataclasses import dataclass, field

from connect.communities.models import ROLES
from connect.notifications.service import PREFERENCES
from connect.openapi.schemas import (
    API_PREFIX,
    BOOL,
    COMMUNITY_SETTINGS,
    CREDENTIALS,
    DOC_PATH,
    FILES,
    ID,
    INT,
    MODE,
    NAME_PATTERN,
    NEW_COMMUNITY,
    NEW_POST,
    NEW_THREAD,
    PAGE,
    PROFILE_CHANGES,
    STR,
    STR_OR_NULL,
    listing,
    nullable,
    obj,
    query,
    ref,
)

# Operations ---------------------------------------------------------------------------------


@dataclass
class Op:
    """One operation: what it takes, what it answers, who may call it."""

    summary: str
    tag: str
    ok: int = 200
    answer: dict | None = None  # the success body's schema; None means no body
    answer_type: str = "application/json"
    body: dict | None = None
    body_required: bool = True
    multipart: dict | None = None  # a multipart/form-data body (uploads)
    params: list[dict] = field(default_factory=list)
    auth: str = "optional"  # "none", "optional" (public reads) or "required"
    errors: tuple[int, ...] = ()
    extra: dict[int, str] = field(default_factory=dict)  # other success answers


READ_ERRORS = (400, 404, 422)
WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422, 429)
UPLOAD_ERRORS = (*WRITE_ERRORS, 415)

P = API_PREFIX
OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", DOC_PATH): Op("This document", "meta", answer={"type": "object"}, auth="none"),
    # Accounts
    ("POST", P + "/auth/register"): Op(
        "Create an account",
        "accounts",
        ok=201,
        answer=ref("Member"),
        auth="none",
        body=obj(
            ["username", "email", "password", "display_name"],
            username={"type": "string", "pattern": NAME_PATTERN},
            email={"type": "string", "format": "email"},
            password={"type": "string", "minLength": 10},
            display_name={"type": "string", "minLength": 1, "maxLength": 80},
        ),
        errors=(400, 409, 413, 422, 429),
    ),
    ("POST", P + "/auth/token"): Op(
        "Sign in for an API token",
        "accounts",
        answer=obj(["token", "member"], token=STR, member=ref("Member")),
        auth="none",
        body=CREDENTIALS,
        errors=(400, 401, 403, 413, 422, 429),
    ),
    ("DELETE", P + "/auth/token"): Op(
        "Revoke the bearer token of this request", "accounts", ok=204, auth="required"
    ),
    ("GET", P + "/auth/tokens"): Op(
        "Your sessions and API tokens", "accounts", answer=listing(ref("Token")), auth="required"
    ),
    ("DELETE", P + "/auth/tokens/{token_id}"): Op(
        "Revoke one of your tokens", "accounts", ok=204, auth="required"
    ),
    ("POST", P + "/auth/session"): Op(
        "Sign in with a session cookie (what the sign-in form does)",
        "accounts",
        answer=obj(["member", "csrf_token"], member=ref("Member"), csrf_token=STR),
        auth="none",
        body=CREDENTIALS,
        errors=(400, 401, 403, 413, 422, 429),
    ),
    ("DELETE", P + "/auth/session"): Op("Sign out", "accounts", ok=204),
    ("POST", P + "/auth/password/forgot"): Op(
        "Ask for a password reset link by mail",
        "accounts",
        ok=202,
        answer=obj(["status"], status=STR, message=STR),
        auth="none",
        body=obj(["email"], email=STR),
        errors=(400, 413, 422, 429),
    ),
    ("POST", P + "/auth/password/reset"): Op(
        "Set a new password with the token from the link",
        "accounts",
        answer=obj(["status"], status=STR),
        auth="none",
        body=obj(["token", "password"], token=STR, password=STR),
        errors=(400, 404, 413, 422, 429),
    ),
    # Members
    ("GET", P + "/me"): Op(
        "The caller, with private fields", "members", answer=ref("Member"), auth="required"
    ),
    ("GET", P + "/members"): Op(
        "The member directory",
        "members",
        answer=listing(ref("Member")),
        params=[
            query("q", STR, "Words in names, titles, organizations."),
            query("organization", STR),
            query("location", STR),
            query("interest", STR, "One public interest, matched whole (any case)."),
            query(
                "sort",
                {"type": "string", "enum": ["name", "complete"]},
                "complete: most complete profile first.",
            ),
            *PAGE,
        ],
    ),
    ("GET", P + "/members/{username}"): Op("A member's profile", "members", answer=ref("Member")),
    ("PATCH", P + "/members/{username}"): Op(
        "Change a profile (self or admin)",
        "members",
        answer=ref("Member"),
        auth="required",
        body=PROFILE_CHANGES,
    ),
    ("PUT", P + "/members/{username}/avatar"): Op(
        "Upload a profile photo (re-encoded as PNG)",
        "members",
        answer=ref("Member"),
        auth="required",
        multipart=obj(["avatar"], avatar={"type": "string", "contentMediaType": "image/*"}),
        errors=UPLOAD_ERRORS,
    ),
    # Professional network
    ("POST", P + "/members/{username}/contact"): Op(
        "Ask to connect (accepts at once when they had asked you)",
        "network",
        ok=201,
        answer=obj(["status"], status={"type": "string", "enum": ["pending", "accepted"]}),
        auth="required",
        body=obj(None, note={"type": "string", "maxLength": 500}),
        body_required=False,
    ),
    ("GET", P + "/members/{username}/activity"): Op(
        "A member's activity that the caller may see",
        "network",
        answer=listing(ref("FeedItem")),
        params=PAGE,
    ),
    ("GET", P + "/me/contacts"): Op(
        "Your contacts, or requests to you (incoming) or by you (outgoing)",
        "network",
        answer=listing(ref("Contact")),
        auth="required",
        params=[
            query("status", {"type": "string", "enum": ["accepted", "incoming", "outgoing"]}),
            *PAGE,
        ],
    ),
    ("PUT", P + "/me/contacts/{username}"): Op(
        "Accept their request (or set it aside with ignored)",
        "network",
        answer=ref("Contact"),
        auth="required",
        body=obj(["status"], status={"type": "string", "enum": ["accepted", "ignored"]}),
    ),
    ("DELETE", P + "/me/contacts/{username}"): Op(
        "Decline their request, cancel yours, or remove the contact",
        "network",
        ok=204,
        auth="required",
    ),
    ("GET", P + "/me/blocks"): Op(
        "Members you block", "network", answer=listing(ref("Block")), auth="required", params=PAGE
    ),
    ("PUT", P + "/me/blocks/{username}"): Op(
        "Block a member (they are not told)", "network", answer=ref("Block"), auth="required"
    ),
    ("DELETE", P + "/me/blocks/{username}"): Op(
        "Unblock a member", "network", ok=204, auth="required"
    ),
    ("GET", P + "/me/suggestions"): Op(
        "People you may know", "network", answer=listing(ref("Suggestion")), auth="required"
    ),
    ("GET", P + "/feed"): Op(
        "Activity from your contacts and communities, newest first",
        "network",
        answer=listing(ref("FeedItem")),
        auth="required",
        params=PAGE,
    ),
    # Private messages
    ("GET", P + "/conversations"): Op(
        "Your conversations with unread counts (q: search your own messages)",
        "messages",
        answer=listing(ref("Conversation"), unread=INT),
        auth="required",
        params=[query("q", STR, "Words in the subject or any message, all of them."), *PAGE],
    ),
    ("POST", P + "/conversations"): Op(
        "Start a conversation (403 when a recipient does not accept messages from you)",
        "messages",
        ok=201,
        answer={"allOf": [ref("Conversation"), obj(["message"], message=ref("Message"))]},
        auth="required",
        body=obj(
            ["to", "body"],
            to={
                "type": "array",
                "items": {"type": "string", "pattern": NAME_PATTERN},
                "minItems": 1,
                "maxItems": 20,
            },
            body={"type": "string", "minLength": 1, "maxLength": 65536},
            subject={"type": ["string", "null"], "maxLength": 200},
            reply_to_post={"type": ["integer", "null"], "minimum": 1},
        ),
    ),
    ("GET", P + "/conversations/{conversation_id}"): Op(
        "A conversation and a page of its messages (reading marks them read)",
        "messages",
        answer=obj(
            ["conversation", "messages", "total", "page", "per_page"],
            conversation=ref("Conversation"),
            messages={"type": "array", "items": ref("Message")},
            total=INT,
            page=INT,
            per_page=INT,
        ),
        auth="required",
        params=PAGE,
    ),
    ("POST", P + "/conversations/{conversation_id}/messages"): Op(
        "Write in a conversation",
        "messages",
        ok=201,
        answer=ref("Message"),
        auth="required",
        body=obj(["body"], body={"type": "string", "minLength": 1, "maxLength": 65536}),
    ),
    ("DELETE", P + "/conversations/{conversation_id}"): Op(
        "Leave a conversation", "messages", ok=204, auth="required"
    ),
    ("POST", P + "/conversations/{conversation_id}/report"): Op(
        "Report a conversation: site moderators may then read it",
        "messages",
        ok=201,
        answer=obj(["conversation_id", "reported_at"], conversation_id=ID, reported_at=STR),
        auth="required",
        body=obj(["reason"], reason={"type": "string", "minLength": 1, "maxLength": 500}),
    ),
    ("GET", P + "/moderation/conversations"): Op(
        "Reported conversations (site moderators)",
        "moderation",
        answer=listing({"type": "object"}),
        auth="required",
        params=PAGE,
    ),
    ("POST", P + "/moderation/conversations/{conversation_id}/close"): Op(
        "Close a conversation's report: it is private again (site moderators)",
        "moderation",
        answer=obj(["conversation_id", "reported"], conversation_id=ID, reported=BOOL),
        auth="required",
        body=obj(None, reason=STR),
    ),
    ("GET", P + "/me/preferences"): Op(
        "Your notification preferences", "notifications", answer=ref("Preferences"), auth="required"
    ),
    ("PATCH", P + "/me/preferences"): Op(
        "Change notification preferences",
        "notifications",
        answer=ref("Preferences"),
        auth="required",
        body={
            "type": "object",
            "properties": {
                name: {"type": "string", "enum": list(values)}
                for name, values in PREFERENCES.items()
            },
            "additionalProperties": False,
        },
    ),
    # Communities
    ("GET", P + "/communities"): Op(
        "Communities visible to the caller",
        "communities",
        answer=listing(ref("Community")),
        params=[query("q", STR), *PAGE],
    ),
    ("POST", P + "/communities"): Op(
        "Create a community (site admins)",
        "communities",
        ok=201,
        answer=ref("Community"),
        auth="required",
        body=NEW_COMMUNITY,
    ),
    ("GET", P + "/communities/{slug}"): Op("A community", "communities", answer=ref("Community")),
    ("PATCH", P + "/communities/{slug}"): Op(
        "Change a community's settings",
        "communities",
        answer=ref("Community"),
        auth="required",
        body=COMMUNITY_SETTINGS,
    ),
    ("POST", P + "/communities/{slug}/join"): Op(
        "Join (open) or ask to join (closed)",
        "communities",
        answer=obj(["status"], status={"type": "string", "enum": ["member", "pending"]}),
        auth="required",
    ),
    ("POST", P + "/communities/{slug}/leave"): Op(
        "Leave a community", "communities", ok=204, auth="required"
    ),
    ("GET", P + "/communities/{slug}/members"): Op(
        "Members and their roles",
        "communities",
        answer=listing(ref("Membership")),
        params=[
            query("status", {"type": "string", "enum": ["active", "pending", "invited"]}),
            *PAGE,
        ],
    ),
    ("PUT", P + "/communities/{slug}/members/{username}"): Op(
        "Set a member's role (approves a request, or adds the member)",
        "communities",
        answer=ref("Membership"),
        auth="required",
        body=obj(["role"], role={"type": "string", "enum": list(ROLES)}),
    ),
    ("DELETE", P + "/communities/{slug}/members/{username}"): Op(
        "Remove a member", "communities", ok=204, auth="required"
    ),
    ("POST", P + "/communities/{slug}/invitations"): Op(
        "Invite a member",
        "communities",
        ok=201,
        answer=ref("Membership"),
        auth="required",
        body=obj(["username"], username=STR),
    ),
    # Boards
    ("GET", P + "/communities/{slug}/threads"): Op(
        "A community's threads",
        "boards",
        answer=listing(ref("Thread")),
        params=[query("sort", {"type": "string", "enum": ["activity", "new"]}), *PAGE],
    ),
    ("POST", P + "/communities/{slug}/threads"): Op(
        "Start a thread (JSON, or multipart with files)",
        "boards",
        ok=201,
        answer=ref("Thread"),
        auth="required",
        body=NEW_THREAD,
        multipart={**NEW_THREAD, "properties": {**NEW_THREAD["properties"], "file": FILES}},
        errors=(*UPLOAD_ERRORS, 423),
    ),
    ("PUT", P + "/communities/{slug}/subscription"): Op(
        "Follow a board",
        "boards",
        answer=ref("Subscription"),
        auth="required",
        body=MODE,
        body_required=False,
    ),
    ("DELETE", P + "/communities/{slug}/subscription"): Op(
        "Stop following a board", "boards", answer=ref("Subscription"), auth="required"
    ),
    ("GET", P + "/threads/{thread_id}"): Op(
        "A thread and a page of its posts",
        "boards",
        answer=obj(
            ["thread", "posts", "total", "page", "per_page"],
            thread=ref("Thread"),
            posts={"type": "array", "items": ref("Post")},
            total=INT,
            page=INT,
            per_page=INT,
        ),
        params=PAGE,
    ),
    ("PATCH", P + "/threads/{thread_id}"): Op(
        "Retitle (author), pin or lock (moderators)",
        "boards",
        answer=ref("Thread"),
        auth="required",
        body=obj(
            None,
            title={"type": "string", "minLength": 1, "maxLength": 200},
            pinned=BOOL,
            locked=BOOL,
        ),
    ),
    ("POST", P + "/threads/{thread_id}/posts"): Op(
        "Reply (JSON, or multipart with files)",
        "boards",
        ok=201,
        answer=ref("Post"),
        auth="required",
        body=NEW_POST,
        multipart={**NEW_POST, "properties": {**NEW_POST["properties"], "file": FILES}},
        errors=(*UPLOAD_ERRORS, 423),
    ),
    ("PUT", P + "/threads/{thread_id}/subscription"): Op(
        "Follow a thread",
        "boards",
        answer=ref("Subscription"),
        auth="required",
        body=MODE,
        body_required=False,
    ),
    ("DELETE", P + "/threads/{thread_id}/subscription"): Op(
        "Stop following a thread", "boards", answer=ref("Subscription"), auth="required"
    ),
    ("POST", P + "/threads/{thread_id}/read"): Op(
        "Mark the thread read up to a post",
        "boards",
        ok=204,
        auth="required",
        body=obj(["last_post_id"], last_post_id=ID),
    ),
    ("GET", P + "/posts/{post_id}"): Op("A post", "boards", answer=ref("Post")),
    ("PATCH", P + "/posts/{post_id}"): Op(
        "Edit a post (author or moderator; history kept)",
        "boards",
        answer=ref("Post"),
        auth="required",
        body=obj(["body"], body={"type": "string", "minLength": 1, "maxLength": 65536}),
        errors=(*WRITE_ERRORS, 423),
    ),
    ("DELETE", P + "/posts/{post_id}"): Op(
        "Delete a post (soft)", "boards", ok=204, auth="required"
    ),
    ("GET", P + "/posts/{post_id}/history"): Op(
        "A post's earlier versions", "boards", answer=listing(ref("Revision"))
    ),
    ("POST", P + "/posts/{post_id}/recommend"): Op(
        "Recommend a post",
        "boards",
        answer=obj(["recommend_count", "recommended"], recommend_count=INT, recommended=BOOL),
        auth="required",
    ),
    ("DELETE", P + "/posts/{post_id}/recommend"): Op(
        "Take a recommendation back",
        "boards",
        answer=obj(["recommend_count", "recommended"], recommend_count=INT, recommended=BOOL),
        auth="required",
    ),
    ("GET", P + "/posts/{post_id}/recommendations"): Op(
        "Who recommended a post", "boards", answer=listing(ref("Author"))
    ),
    # Library
    ("GET", P + "/communities/{slug}/library"): Op(
        "A library folder's subfolders and entries (or every entry with view=all)",
        "library",
        answer=listing(
            ref("Entry"),
            folder=nullable(ref("Folder")),
            path={"type": "array", "items": ref("Folder")},
            folders={"type": "array", "items": ref("Folder")},
            sort=STR,
            view={"type": "string", "enum": ["folder", "all"]},
        ),
        params=[
            query("folder", {"type": "integer", "minimum": 1}),
            query("view", {"type": "string", "enum": ["folder", "all"]}),
            query("sort", STR),
            query("order", {"type": "string", "enum": ["asc", "desc"]}),
            *PAGE,
        ],
    ),
    ("POST", P + "/communities/{slug}/library/folders"): Op(
        "Create a folder",
        "library",
        ok=201,
        answer=ref("Folder"),
        auth="required",
        body=obj(
            ["name"],
            name={"type": "string", "minLength": 1, "maxLength": 120},
            parent_id={"type": ["integer", "null"], "minimum": 1},
        ),
    ),
    ("POST", P + "/communities/{slug}/library/entries"): Op(
        "Upload a document (one or more files)",
        "library",
        ok=201,
        answer=ref("Entry"),
        auth="required",
        multipart=obj(
            ["file"],
            file=FILES,
            title=STR,
            description=STR,
            tags={"type": "string", "description": "Comma separated."},
            folder_id={"type": "string", "pattern": "^[0-9]*$"},
        ),
        errors=UPLOAD_ERRORS,
    ),
    ("GET", P + "/library/entries/{id}"): Op("A library entry", "library", answer=ref("Entry")),
    ("PATCH", P + "/library/entries/{id}"): Op(
        "Change an entry's title, description, tags or folder",
        "library",
        answer=ref("Entry"),
        auth="required",
        body=obj(
            None,
            title={"type": "string", "minLength": 1, "maxLength": 200},
            description=STR,
            tags={"anyOf": [STR, {"type": "array", "items": STR}]},
            folder_id={"type": ["integer", "null"], "minimum": 1},
        ),
    ),
    ("DELETE", P + "/library/entries/{id}"): Op(
        "Delete an entry", "library", ok=204, auth="required"
    ),
    ("POST", P + "/library/entries/{id}/files/{file_id}/versions"): Op(
        "Upload a new version of a file",
        "library",
        ok=201,
        answer={"allOf": [ref("File"), obj(["entry_id"], entry_id=ID)]},
        auth="required",
        multipart=obj(["file"], file=FILES),
        errors=UPLOAD_ERRORS,
    ),
    ("GET", P + "/library/files/{file_id}/download"): Op(
        "A file's bytes (current version, or ?version=N)",
        "library",
        answer={"type": "string", "contentMediaType": "application/octet-stream"},
        answer_type="application/octet-stream",
        params=[query("version", {"type": "integer", "minimum": 1})],
        extra={304: "Not modified (If-None-Match)."},
    ),
    # Notifications
    ("GET", P + "/notifications"): Op(
        "Your notifications",
        "notifications",
        answer=listing(ref("Notification"), unread=INT),
        auth="required",
        params=[query("unread", {"type": "string", "enum": ["1", "true", "0", "false"]}), *PAGE],
    ),
    ("POST", P + "/notifications/read"): Op(
        "Mark notifications read (ids, or all: true)",
        "notifications",
        answer=obj(["marked", "unread"], marked=INT, unread=INT),
        auth="required",
        body=obj(None, ids={"type": "array", "items": ID}, all=BOOL),
    ),
    # Search
    ("GET", P + "/search"): Op(
        "Search discussions, library documents, members and communities",
        "search",
        answer=listing(
            ref("SearchHit"),
            suggestion=STR_OR_NULL,
            facets=obj(
                ["type", "community"],
                type={"type": "object", "additionalProperties": INT},
                community={"type": "object", "additionalProperties": INT},
            ),
            sort=STR,
        ),
        params=[
            query("q", STR, "author:jdoe in:cataloging type:entry tag:rda after:2025-01-01 …"),
            query(
                "type",
                {"type": "string", "enum": ["thread", "post", "entry", "member", "community"]},
            ),
            query("community", STR),
            query("author", STR),
            query("after", {"type": "string", "format": "date"}),
            query("before", {"type": "string", "format": "date"}),
            query("sort", {"type": "string", "enum": ["relevance", "newest"]}),
            *PAGE,
        ],
        errors=(*READ_ERRORS, 503),
    ),
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
        body=obj(None, reason=STR),
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
        body=obj(None, reason=STR),
        body_required=False,
    ),
    ("POST", P + "/posts/{post_id}/hide"): Op(
        "Hide a post (moderators)",
        "moderation",
        answer=ref("Post"),
        auth="required",
        body=obj(None, reason=STR),
        body_required=False,
    ),
    ("POST", P + "/posts/{post_id}/restore"): Op(
        "Restore a hidden post",
        "moderation",
        answer=ref("Post"),
        auth="required",
        body=obj(None, reason=STR),
        body_required=False,
    ),
    ("POST", P + "/posts/{post_id}/flags"): Op(
        "Flag a post",
        "moderation",
        ok=201,
        answer=obj(["id", "reason", "hidden"], id=ID, reason=STR, hidden=BOOL),
        auth="required",
        body=obj(
            ["reason"],
            reason={"type": "string", "enum": ["spam", "abuse", "off_topic", "other"]},
            note=STR,
        ),
    ),
    ("POST", P + "/library/entries/{entry_id}/hide"): Op(
        "Hide a library entry (moderators)",
        "moderation",
        answer=obj(["id", "status"], id=ID, status=STR),
        auth="required",
        body=obj(None, reason=STR),
        body_required=False,
    ),
    ("POST", P + "/library/entries/{entry_id}/restore"): Op(
        "Restore a hidden library entry",
        "moderation",
        answer=obj(["id", "status"], id=ID, status=STR),
        auth="required",
        body=obj(None, reason=STR),
        body_required=False,
    ),
    ("POST", P + "/library/entries/{entry_id}/flags"): Op(
        "Flag a library entry",
        "moderation",
        ok=201,
        answer=obj(["id", "reason", "hidden"], id=ID, reason=STR, hidden=BOOL),
        auth="required",
        body=obj(
            ["reason"],
            reason={"type": "string", "enum": ["spam", "abuse", "off_topic", "other"]},
            note=STR,
        ),
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
