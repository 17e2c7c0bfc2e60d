"""The reviewers' web UI: server-rendered pages with a little JavaScript over the JSON API.

Everything it needs is served by the app itself (no CDN), so it works offline.
"""

from service.web.pages import router, static_files

__all__ = ["router", "static_files"]
