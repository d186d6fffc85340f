"""Moderation: the queue, flags, sanctions, posting limits and the audit log."""
