"""Answer-library routes: clusters, canonical answers, conflicts, due reviews, import and export."""

from fastapi import APIRouter

router = APIRouter(tags=["library"])
