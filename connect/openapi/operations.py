"""What each /api/v1 operation takes, answers and requires (OPERATIONS), gathered from the
modules that describe each part of the API."""

from __future__ import annotations

from connect.openapi import content, moderation, people
from connect.openapi.op import READ_ERRORS, UPLOAD_ERRORS, WRITE_ERRORS, Op
from connect.openapi.schemas import DOC_PATH

__all__ = ["OPERATIONS", "READ_ERRORS", "UPLOAD_ERRORS", "WRITE_ERRORS", "Op"]

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", DOC_PATH): Op("This document", "meta", answer={"type": "object"}, auth="none"),
    **people.OPERATIONS,
    **content.OPERATIONS,
    **moderation.OPERATIONS,
}
