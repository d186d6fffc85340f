"""The ASGI entry point: `uvicorn asgi:app` (settings from CONNECT_* variables)."""

from connect.app import create_app

app = create_app()
