"""Operations about communities and what they hold: boards, libraries, notifications, search."""

from __future__ import annotations

from connect.communities.models import ROLES
from connect.openapi.op import READ_ERRORS, UPLOAD_ERRORS, WRITE_ERRORS, Op, P
from connect.openapi.schemas import (
    BOOL,
    COMMUNITY_SETTINGS,
    FILES,
    ID,
    INT,
    MODE,
    NEW_COMMUNITY,
    NEW_POST,
    NEW_THREAD,
    PAGE,
    STR,
    STR_OR_NULL,
    listing,
    nullable,
    obj,
    query,
    ref,
)

OPERATIONS: dict[tuple[str, str], Op] = {
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
    ("POST", P + "/communities/{slug}/archive"): Op(
        "Archive a community: still readable, it takes no new content or members"
        " (its owners and site admins)",
        "communities",
        answer=ref("Community"),
        auth="required",
    ),
    ("DELETE", P + "/communities/{slug}/archive"): Op(
        "Unarchive a community (its owners and site admins)",
        "communities",
        answer=ref("Community"),
        auth="required",
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
            # Why the search found less than it might have (too common words, word starts).
            notices={"type": "array", "items": obj(["code", "message"], code=STR, message=STR)},
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
}
