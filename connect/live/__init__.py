"""Live updates: the WebSocket endpoint, the per-process hub, channels and wake-ups."""
