from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    """One question to draft: where it is, its text and language, and the product it is for."""

    ref: str
    question: str
    language: str
    product: str | None
