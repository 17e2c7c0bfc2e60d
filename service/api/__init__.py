"""The HTTP API (FastAPI): a thin layer over the core. `create_app(settings)` builds it."""

from service.api.app import create_app

__all__ = ["create_app"]
