"""One /api/v1 operation's description (Op) and the error answers most operations share."""

from __future__ import annotations

from dataclasses import dataclass, field

from connect.openapi.schemas import API_PREFIX


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
