"""Discussion boards: threads, posts, edits, recommendations and subscriptions."""
