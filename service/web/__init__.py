"""The reviewers' web UI: server-rendered pages with a little JavaScript over the JSON API.

Everything it needs is served by the app itself (no CDN), so it works offline.
"""

from fastapi import APIRouter

from service.web import evaluation_pages, library_pages, pages
from service.web.pages import static_files

router = APIRouter(include_in_schema=False)
for module in (pages, evaluation_pages, library_pages):
    router.include_router(module.router)

__all__ = ["router", "static_files"]
