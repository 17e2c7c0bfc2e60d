"""HTTP routes, one module per domain. Each route resolves what it acts on through `service.api.deps`,
calls the core, and commits its own change."""

from fastapi import APIRouter

from service.api.routers import auth, desk, evaluation, items, knowledge_base, library, questionnaires, workspaces
from service.api.schemas import ErrorOut

# Every error is `{"detail": ...}`; a stale edit's 409 also carries the current item.
router = APIRouter(
    prefix="/api",
    responses={code: {"model": ErrorOut} for code in (401, 403, 404, 409, 413, 415, 422)},
)
for module in (auth, workspaces, knowledge_base, questionnaires, items, desk, evaluation, library):
    router.include_router(module.router)

__all__ = ["router"]
