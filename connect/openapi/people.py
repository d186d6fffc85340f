"""Operations about people: accounts, member profiles, the network and private messages."""

from __future__ import annotations

from connect.notifications.preferences import PREFERENCES
from connect.openapi.op import UPLOAD_ERRORS, Op, P
from connect.openapi.schemas import (
    BOOL,
    CREDENTIALS,
    ID,
    INT,
    NAME_PATTERN,
    PAGE,
    PROFILE_CHANGES,
    STR,
    listing,
    obj,
    query,
    ref,
)

OPERATIONS: dict[tuple[str, str], Op] = {
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
    ("POST", P + "/me/email"): Op(
        "Ask to change your email address: a link goes to the new one (403: wrong password; "
        "409: another account uses it)",
        "accounts",
        ok=202,
        answer=obj(["status", "pending_email"], status=STR, pending_email=STR, message=STR),
        auth="required",
        body=obj(["email", "password"], email=STR, password=STR),
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
    ("DELETE", P + "/me"): Op(
        "Delete your account: signed out everywhere, profile erased, what you wrote kept under "
        "“Former member” (403: wrong password; 409: you are the last administrator or the "
        "only owner of a community)",
        "accounts",
        ok=204,
        auth="required",
        body=obj(["password"], password=STR),
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
}
