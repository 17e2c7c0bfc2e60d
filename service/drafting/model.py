"""A draft answer and the citations that travel with it from retrieval to export."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DRAFTED = "drafted"
NO_EVIDENCE = "no_evidence"


@dataclass(frozen=True)
class Citation:
    entry_id: str
    source: str
    locator: str
    text: str  # the cited entry's own question and answer
    product: str | None = None


@dataclass
class Draft:
    ref: str  # where the question is in the questionnaire (e.g. "Security!E12" or "row 3")
    question: str
    language: str
    choice: str | None  # in the question's language: はい/いいえ/該当なし or Yes/No/N/A
    answer: str
    confidence: float
    status: str  # DRAFTED | NO_EVIDENCE
    citations: list[Citation] = field(default_factory=list)
    drafter: str = "offline"  # "offline", "llm", or "offline_fallback" when the LLM could not draft it
    signals: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # names a reviewer should see (service.drafting.flags)
    note: str = ""  # why the draft is as it is, in words (e.g. the LLM's failure)
    # The language of the answer text: always the questionnaire's own. Foreign evidence is never
    # pasted as an answer; the draft is flagged needs_translation instead.
    answer_language: str = ""
    confidence_source: str = ""  # which calibration the confidence came from

    def __post_init__(self) -> None:
        self.answer_language = self.answer_language or self.language

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["citations"] = [
            {"entry_id": c.entry_id, "source": c.source, "locator": c.locator, "text": c.text} for c in self.citations
        ]
        return data


def no_evidence(
    ref: str,
    question: str,
    language: str,
    confidence: float,
    drafter: str,
    signals: dict[str, float],
    flags: list[str] | None = None,
) -> Draft:
    """An honest "no evidence": no choice, no text, nothing cited."""
    return Draft(ref, question, language, None, "", confidence, NO_EVIDENCE, [], drafter, signals, list(flags or []))
