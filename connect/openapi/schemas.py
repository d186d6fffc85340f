"""Schemas, request bodies and parameters shared by the operations of the API document."""

from __future__ import annotations

from typing import Any

from connect.communities.models import MODERATION_MODES, ROLES, VISIBILITIES
from connect.members.models import PROFILE_FIELDS
from connect.network.models import POLICIES
from connect.notifications.preferences import PREFERENCES

API_PREFIX = "/api/v1"
DOC_PATH = API_PREFIX + "/openapi.json"
# HEAD is answered for every GET (same headers, no body) and is not listed separately.
LISTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
NAME_PATTERN = "^[a-z0-9_-]{2,40}$"

# Schemas ------------------------------------------------------------------------------------


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: list[str] | None = None, **properties: dict) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def listing(item: dict, **extra: dict) -> dict:
    """api.md's list shape: items, total, page, per_page (and any extra fields)."""
    return obj(
        ["items", "total", "page", "per_page"],
        items={"type": "array", "items": item},
        total=INT,
        page=INT,
        per_page=INT,
        **extra,
    )


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
ID = {"type": "integer", "minimum": 1}
TIME = {"type": "string", "format": "date-time"}
STR_OR_NULL = {"type": ["string", "null"]}
INT_OR_NULL = {"type": ["integer", "null"]}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, dict] = {
    "Error": obj(
        ["error"],
        error={
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                "message": {"type": "string", "minLength": 1},
                "fields": {"type": "object", "additionalProperties": STR},
            },
        },
    ),
    "Author": nullable(
        obj(["username", "display_name"], username=STR, display_name=STR, avatar_url=STR_OR_NULL)
    ),
    "Member": obj(
        ["id", "username", "display_name", "joined_at", "site_role"],
        id=ID,
        username=STR,
        display_name=STR,
        avatar_url=STR_OR_NULL,
        joined_at=TIME,
        site_role={"type": "string", "enum": ["member", "moderator", "admin"]},
        **{name: STR_OR_NULL for name in PROFILE_FIELDS if name != "interests"},
        interests={"type": "array", "items": STR},
        email={"type": "string", "description": "Only to the member and site admins."},
        public_fields={"type": "array", "items": STR},
        listed=BOOL,
        preferences={"type": "object"},
        contact_policy={"type": "string", "enum": list(POLICIES)},
        message_policy={"type": "string", "enum": list(POLICIES)},
        suspended_until=TIME,
    ),
    "Community": obj(
        [
            "id",
            "slug",
            "name",
            "visibility",
            "moderation",
            "member_count",
            "membership",
            "archived_at",
        ],
        id=ID,
        slug=STR,
        name=STR,
        description=STR,
        visibility={"type": "string", "enum": list(VISIBILITIES)},
        moderation={"type": "string", "enum": list(MODERATION_MODES)},
        member_count=INT,
        created_at=TIME,
        archived_at={
            **TIME_OR_NULL,
            "description": "When the community was archived (read-only: no new posts,"
            " uploads or members); null when it is active.",
        },
        membership={
            "type": ["string", "null"],
            "description": "The caller's role, or pending/invited; null when not a member.",
        },
        url=STR,
    ),
    "Membership": obj(
        ["username", "role", "status"],
        username=STR,
        display_name=STR,
        role={"type": "string", "enum": list(ROLES)},
        status=STR,
        since=TIME,
    ),
    "Thread": obj(
        ["id", "title", "author", "created_at", "post_count", "pinned", "locked", "status"],
        id=ID,
        title=STR,
        author=ref("Author"),
        created_at=TIME,
        last_post_at=TIME,
        post_count=INT,
        pinned=BOOL,
        locked=BOOL,
        status=STR,
        first_post_id=INT_OR_NULL,
        url=STR,
        community=STR,
        attachments={"type": "array", "items": ref("Attachment")},
        new_replies={
            "type": "integer",
            "description": "Board listings for a signed-in caller: replies by others since "
            "the caller last read the thread (0 for threads never opened).",
        },
        first_new_post_id={
            "type": ["integer", "null"],
            "description": "The first of those replies (`/posts/{id}` shows it in place).",
        },
    ),
    "Post": obj(
        ["id", "thread_id", "author", "body", "html", "created_at", "status", "recommend_count"],
        id=ID,
        thread_id=ID,
        author=ref("Author"),
        body=STR,
        html=STR,
        created_at=TIME,
        edited_at=TIME_OR_NULL,
        status=STR,
        recommend_count=INT,
        recommended=BOOL,
        reply_to=INT_OR_NULL,
        url=STR,
        attachments={"type": "array", "items": ref("Attachment")},
    ),
    "Revision": obj(["body", "replaced_at"], body=STR, replaced_at=TIME, editor=ref("Author")),
    "Attachment": obj(["id", "title", "status", "url"], id=ID, title=STR, status=STR, url=STR),
    "Folder": obj(
        ["id", "name", "parent_id"],
        id=ID,
        name=STR,
        parent_id=INT_OR_NULL,
        kind=STR,
        created_at=TIME,
        url=STR,
    ),
    "FileVersion": obj(
        ["id", "version", "filename", "size", "content_type", "sha256", "download_url"],
        id=ID,
        version=ID,
        filename=STR,
        size=INT,
        content_type=STR,
        kind=STR,
        sha256=STR,
        uploaded_by=ref("Author"),
        created_at=TIME,
        download_count=INT,
        download_url=STR,
        text_status=STR,
    ),
    "File": obj(
        ["id", "filename", "size", "content_type", "version", "sha256", "download_url"],
        id=ID,
        filename=STR,
        size=INT,
        content_type=STR,
        kind=STR,
        version=ID,
        sha256=STR,
        download_url=STR,
        download_count=INT,
        text_status=STR,
        versions={"type": "array", "items": ref("FileVersion")},
    ),
    "Entry": obj(
        ["id", "title", "description", "tags", "author", "files", "created_at", "updated_at"],
        id=ID,
        title=STR,
        description=STR,
        html=STR,
        tags={"type": "array", "items": STR},
        author=ref("Author"),
        status=STR,
        community=STR,
        folder_id=INT_OR_NULL,
        files={"type": "array", "items": ref("File")},
        download_count=INT,
        thread_id=INT_OR_NULL,
        post_id=INT_OR_NULL,
        created_at=TIME,
        updated_at=TIME,
        url=STR,
    ),
    "Notification": obj(
        ["id", "kind", "title", "url", "created_at", "read"],
        id=ID,
        kind=STR,
        title=STR,
        excerpt=STR_OR_NULL,
        url=STR,
        created_at=TIME,
        read=BOOL,
        actor=STR_OR_NULL,
    ),
    "Preferences": obj(
        list(PREFERENCES),
        **{name: {"type": "string", "enum": list(values)} for name, values in PREFERENCES.items()},
    ),
    "Token": obj(
        ["id", "kind", "name", "created_at", "current"],
        id=ID,
        kind=STR,
        name=STR_OR_NULL,
        created_at=TIME,
        last_used_at=TIME_OR_NULL,
        expires_at=TIME_OR_NULL,
        current=BOOL,
    ),
    "SearchHit": obj(
        ["type", "id", "title", "url", "snippet"],
        type={"type": "string", "enum": ["thread", "post", "entry", "member", "community"]},
        id={"type": ["integer", "string"]},
        title=STR,
        title_html=STR,
        url=STR,
        snippet=STR,
        community=STR_OR_NULL,
        author=STR_OR_NULL,
        created_at=TIME_OR_NULL,
    ),
    "Contact": obj(
        ["member", "status", "created_at"],
        member=ref("Author"),
        status={
            "type": "string",
            "enum": ["accepted", "incoming", "outgoing", "ignored"],
            "description": "As the caller sees it; an ignored request looks outgoing to its asker.",
        },
        note=STR,
        created_at=TIME,
        accepted_at=TIME_OR_NULL,
    ),
    "Block": obj(["member"], member=ref("Author"), created_at=TIME, blocked=BOOL),
    "Suggestion": obj(
        ["member", "reasons", "can_connect"],
        member=ref("Author"),
        shared_communities=INT,
        same_organization=BOOL,
        shared_interests={"type": "array", "items": STR},
        reasons={"type": "array", "items": STR},
        can_connect=BOOL,
    ),
    "FeedItem": obj(
        ["type", "id", "created_at", "actor", "community", "title", "url"],
        type={"type": "string", "enum": ["thread", "reply", "entry", "joined"]},
        id=ID,
        created_at=TIME,
        actor=ref("Author"),
        community=obj(["slug", "name"], slug=STR, name=STR),
        title=STR,
        excerpt=STR,
        url=STR,
    ),
    "Conversation": obj(
        ["id", "subject", "participants", "created_at", "last_message_at"],
        id=ID,
        subject=STR,
        participants={
            "type": "array",
            "items": obj(
                ["username", "display_name", "left_at"],
                username=STR,
                display_name=STR,
                avatar_url=STR_OR_NULL,
                left_at=TIME_OR_NULL,
            ),
        },
        created_at=TIME,
        last_message_at=TIME,
        unread={"type": "integer", "description": "Messages the caller has not read yet."},
        reported=BOOL,
        url=STR,
    ),
    "Message": obj(
        ["id", "conversation_id", "author", "body", "html", "created_at"],
        id=ID,
        conversation_id=ID,
        author=ref("Author"),
        body=STR,
        html=STR,
        created_at=TIME,
        reply_to_post=INT_OR_NULL,
        quoted_post=nullable(
            obj(
                ["id", "title", "url"],
                id=ID,
                thread_id=ID,
                title=STR,
                author=ref("Author"),
                excerpt=STR,
                url=STR,
            )
        ),
    ),
    "Subscription": obj(
        ["mode"],
        thread_id=ID,
        community=STR,
        mode={"type": ["string", "null"], "enum": ["real_time", "digest", "in_app", None]},
    ),
}

# Request bodies -----------------------------------------------------------------------------

CREDENTIALS = obj(["login", "password"], login=STR, password=STR)
PROFILE_CHANGES = {
    "type": "object",
    "properties": {
        "display_name": {"type": "string", "maxLength": 80},
        **{name: STR for name in PROFILE_FIELDS},
        "public_fields": {
            "type": "array",
            "items": {"type": "string", "enum": list(PROFILE_FIELDS)},
        },
        "listed": BOOL,
        "contact_policy": {"type": "string", "enum": list(POLICIES)},
        "message_policy": {"type": "string", "enum": list(POLICIES)},
    },
    "additionalProperties": False,
}
COMMUNITY_SETTINGS = obj(
    None,
    slug={"type": "string", "pattern": NAME_PATTERN},
    name={"type": "string", "minLength": 1, "maxLength": 120},
    description=STR,
    visibility={"type": "string", "enum": list(VISIBILITIES)},
    moderation={"type": "string", "enum": list(MODERATION_MODES)},
)
NEW_COMMUNITY = {**COMMUNITY_SETTINGS, "required": ["slug", "name"]}
NEW_THREAD = obj(
    ["title", "body"],
    title={"type": "string", "minLength": 1, "maxLength": 200},
    body={"type": "string", "minLength": 1, "maxLength": 65536},
)
NEW_POST = obj(
    ["body"],
    body={"type": "string", "minLength": 1, "maxLength": 65536},
    reply_to={"type": ["integer", "null"], "minimum": 1},
)
FILES = {
    "type": "array",
    "items": {"type": "string", "contentMediaType": "application/octet-stream"},
}
WITH_FILES = {"description": "multipart/form-data: the same fields, and `file` parts to attach."}
MODE = obj(None, mode={"type": "string", "enum": ["real_time", "digest"]})

# Parameters ---------------------------------------------------------------------------------


def query(name: str, schema: dict, description: str = "") -> dict:
    parameter = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


PAGE = [
    query("page", {"type": "integer", "minimum": 1}),
    query("per_page", {"type": "integer", "minimum": 1, "maximum": 100}),
]
# Path ids go up to 2**31 - 1 (connect.web): larger ones match no route (404).
PATH_ID = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "format": "int32"}
PATH_PARAMS = {
    "slug": {"type": "string", "pattern": NAME_PATTERN},
    "username": {"type": "string", "pattern": NAME_PATTERN},
}
