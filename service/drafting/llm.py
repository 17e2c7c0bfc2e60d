"""The LLM drafter: a chat model writes the answer from the retrieved evidence, and every reply
is checked before it becomes a draft.

A reply must be one JSON object whose citations are labels of the evidence given for that very
question; anything else (another id, malformed JSON, a timeout) is asked again once and then
replaced by the offline draft, marked `offline_fallback`. Evidence too weak to answer from never
reaches the model: the draft says no_evidence, as the offline drafter would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from service.drafting import evidence
from service.drafting.calibration import Calibration
from service.drafting.choices import LABELS
from service.drafting.flags import CHOICE_INFERRED, CHOICE_WITHHELD, LLM_FALLBACK, NEEDS_TRANSLATION, TRANSLATED
from service.drafting.model import DRAFTED, Draft, no_evidence
from service.drafting.offline import EvidenceObserver, citation, compose, resolve_calibration, review_state
from service.drafting.questions import analyse
from service.drafting.request import Request
from service.knowledge_base import KnowledgeBase, SearchHit
from service.llm import count_tokens, describe_llm_error, get_chat_model, is_permanent, load_prompt, truncate

log = logging.getLogger(__name__)

# Below this share of the abstain threshold the evidence is not worth a model call.
LLM_GATE = 0.5
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class Reply(BaseModel):
    choice: str | None = None
    answer: str = ""
    citations: list[str] = Field(default_factory=list)
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    no_evidence: bool = False

    @field_validator("citations", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value


class InvalidReply(ValueError):
    pass


@dataclass
class _Prepared:
    request: Request
    hits: list[SearchHit]
    labels: dict[str, SearchHit]
    evidence_confidence: float
    messages: list[Any] | None  # None: not sent (too weak)


def parse_reply(content: str, labels: dict[str, SearchHit], language: str) -> Reply:
    match = _JSON_OBJECT.search(content or "")
    if not match:
        raise InvalidReply("the reply holds no JSON object")
    try:
        reply = Reply.model_validate(json.loads(match.group(0)))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise InvalidReply(f"the reply is not the expected JSON: {exc}") from exc
    if reply.no_evidence:
        return reply
    unknown = [c for c in reply.citations if c not in labels]
    if unknown:
        raise InvalidReply(f"the reply cites evidence it was not given: {', '.join(unknown)}")
    if not reply.citations or not reply.answer.strip():
        raise InvalidReply("the reply has no answer or cites no evidence")
    allowed = set(LABELS["en" if language == "en" else "ja"].values())
    if reply.choice is not None and reply.choice not in allowed:
        raise InvalidReply(f"choice {reply.choice!r} is not one of {sorted(allowed)}")
    return reply


def evidence_text(hits: list[SearchHit], budget: int) -> tuple[str, dict[str, SearchHit]]:
    """Evidence labelled E1.., trimmed to a token budget (whole entries first, then text)."""
    blocks: list[str] = []
    labels: dict[str, SearchHit] = {}
    used = 0
    for number, hit in enumerate(hits, start=1):
        entry = hit.entry
        label = f"E{number}"
        head = f"[{label}] {entry.source.name} {entry.locator}" + (f" ({entry.product})" if entry.product else "")
        body = f"Q: {entry.question}\nA: {entry.answer}" + (f"\n備考: {entry.notes}" if entry.notes else "")
        block = f"{head}\n{body}"
        cost = count_tokens(block)
        if used + cost > budget:
            room = budget - used - count_tokens(head) - 1
            if room < 40:
                break
            block = f"{head}\n{truncate(body, room)}"
            cost = count_tokens(block)
        blocks.append(block)
        labels[label] = hit
        used += cost
    return "\n\n".join(blocks), labels


class LLMDrafter:
    name = "llm"

    def __init__(
        self,
        kb: KnowledgeBase,
        model: BaseChatModel | None = None,
        k: int = 5,
        calibration: Calibration | None = None,
        per_workspace: bool = False,
    ) -> None:
        self.kb = kb
        self.calibration = calibration
        self.per_workspace = per_workspace
        self._active: tuple[Calibration | None, str] = (calibration, "given" if calibration else "uncalibrated")
        self._review: dict[str, bool] = {}
        self.settings = kb.settings
        self.model = model or get_chat_model(kb.settings)
        self.k = k
        self.prompt_tokens = 0
        self.completion_tokens = 0

    # ------------------------------------------------------------------ prompt

    def prepare(self, session: Session, workspace: str, request: Request) -> _Prepared:
        hits = self.kb.search(session, workspace, request.question, k=self.k, product=request.product)
        signals = evidence.score(request.question, request.language, hits)
        if not hits or signals.confidence < self.settings.abstain_threshold * LLM_GATE:
            return _Prepared(request, hits, {}, signals.confidence, None)
        block, labels = evidence_text(hits, self.settings.llm_evidence_tokens)
        prompt = load_prompt(self.settings, "draft", request.language)
        messages = prompt.format_messages(question=request.question, evidence=block)
        return _Prepared(request, hits, labels, signals.confidence, messages)

    # ------------------------------------------------------------------ calls

    async def _ask(self, prepared: _Prepared) -> Reply:
        assert prepared.messages is not None
        message = await asyncio.wait_for(
            self.model.ainvoke(prepared.messages), timeout=self.settings.llm_timeout_seconds
        )
        usage = getattr(message, "usage_metadata", None) or {}
        self.prompt_tokens += int(usage.get("input_tokens", 0))
        self.completion_tokens += int(usage.get("output_tokens", 0))
        content = message.content if isinstance(message.content, str) else json.dumps(message.content)
        return parse_reply(content, prepared.labels, prepared.request.language)

    async def _draft_one(self, prepared: _Prepared, gate: asyncio.Semaphore) -> Draft:
        request = prepared.request
        fallback = compose(
            request.ref,
            request.question,
            request.language,
            prepared.hits,
            self.settings.abstain_threshold,
            drafter="offline_fallback",
            product=request.product,
            stale_months=self.settings.stale_evidence_months,
            calibration=self._active[0],
            canonical_review=self._review,
        )
        if prepared.messages is None:
            return no_evidence(
                request.ref, request.question, request.language, prepared.evidence_confidence, "llm", fallback.signals
            )
        reply: Reply | None = None
        reason = ""
        async with gate:
            for _attempt in range(2):
                try:
                    reply = await self._ask(prepared)
                    break
                except Exception as exc:  # noqa: BLE001 - every failure is named on the draft and logged
                    reason = describe_llm_error(exc, self.settings)
                    if is_permanent(exc):
                        break  # a refused key or an unknown model will not change on a second try
        if reply is None:
            log.warning("LLM draft of %s failed, drafted offline instead: %s", request.ref, reason)
            fallback.flags.append(LLM_FALLBACK)
            fallback.note = " ".join(filter(None, [f"LLM failed: {reason}", fallback.note]))
            return fallback
        # The model's own word on how directly the evidence answers, tempered by the evidence's.
        confidence = round((reply.confidence + fallback.confidence) / 2, 4)
        if reply.no_evidence:
            return no_evidence(request.ref, request.question, request.language, confidence, "llm", fallback.signals)
        cited_hits = [prepared.labels[label] for label in dict.fromkeys(reply.citations)]
        # What the evidence says about itself (conflicts, age, product) holds whoever wrote the words.
        flags = [f for f in fallback.flags if f not in (NEEDS_TRANSLATION, CHOICE_WITHHELD, CHOICE_INFERRED)]
        if any(h.entry.language != request.language for h in cited_hits):
            flags.append(TRANSLATED)
        shape = analyse(request.question, request.language)
        return Draft(
            request.ref,
            request.question,
            request.language,
            reply.choice if shape.wants_choice else None,  # an open question gets no Yes/No
            reply.answer.strip(),
            confidence,
            DRAFTED,
            [citation(h) for h in cited_hits],
            "llm",
            fallback.signals,
            flags=flags,
        )

    async def _run(self, prepared: list[_Prepared], progress: Callable[[int, int], None] | None) -> list[Draft]:
        gate = asyncio.Semaphore(max(1, self.settings.llm_concurrency))
        done = 0

        async def tracked(p: _Prepared) -> Draft:
            nonlocal done
            draft = await self._draft_one(p, gate)
            done += 1
            if progress:
                progress(done, len(prepared))
            return draft

        return list(await asyncio.gather(*(tracked(p) for p in prepared)))

    def draft_batch(
        self,
        session: Session,
        workspace: str,
        requests: list[Request],
        progress: Callable[[int, int], None] | None = None,
        on_evidence: EvidenceObserver | None = None,
    ) -> list[Draft]:
        # Retrieval uses the session here, before any model call; the calls then run concurrently.
        self._active = resolve_calibration(session, workspace, self.kb, self.calibration, self.per_workspace)
        self._review = review_state(session, workspace)
        prepared = [self.prepare(session, workspace, r) for r in requests]
        if on_evidence:
            for p in prepared:
                on_evidence(p.request, p.hits)
        drafts = asyncio.run(self._run(prepared, progress))
        for draft in drafts:
            draft.confidence_source = self._active[1] if draft.drafter != "llm" else f"LLM and {self._active[1]}"
        return drafts
