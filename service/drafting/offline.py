"""The offline drafter: no LLM. The draft is the best evidence itself, with its choice and citations."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from service.drafting import evidence
from service.drafting.choices import evidence_choice, label
from service.drafting.model import DRAFTED, Citation, Draft, no_evidence
from service.drafting.request import Request
from service.ingest.choices import normalize_choice
from service.knowledge_base import KnowledgeBase, SearchHit

CITATION_SIMILARITY_MARGIN = 0.015  # further entries are cited when this close to the best one and agreeing


def citation(hit: SearchHit) -> Citation:
    entry = hit.entry
    return Citation(
        entry_id=entry.id,
        source=entry.source.name,
        locator=entry.locator,
        text=f"{entry.question}\n{entry.answer}",
        product=entry.product,
    )


def compose(
    ref: str, question: str, language: str, hits: list[SearchHit], threshold: float, drafter: str = "offline"
) -> Draft:
    """A draft from retrieved evidence, or an honest no_evidence when the evidence is too weak."""
    signals = evidence.score(question, language, hits)
    signal_map = {k: v for k, v in vars(signals).items() if k != "confidence"}
    if not hits or signals.confidence < threshold:
        return no_evidence(ref, question, language, signals.confidence, drafter, signal_map)
    top = hits[0]

    def choice_of(hit: SearchHit) -> str | None:
        return evidence_choice(hit.entry.choice, hit.entry.answer, prose=hit.entry.source.kind == "prose")

    choice = choice_of(top)
    cited = [top]
    for hit in hits[1:]:
        close = (top.dense_similarity or 0) - (hit.dense_similarity or 0) <= CITATION_SIMILARITY_MARGIN
        if language == "ja":  # both retrievers must back a further citation where both run
            close = close and (hit.lexical_rank or 99) <= 5
        other = choice_of(hit)
        if close and (other is None or choice is None or other == choice) and len(cited) < 3:
            cited.append(hit)
    # A bare "有" says nothing a reviewer can send: take the words of the first cited entry that has some.
    answer = next((h.entry.answer for h in cited if normalize_choice(h.entry.answer) is None), top.entry.answer)
    return Draft(
        ref=ref,
        question=question,
        language=language,
        choice=label(choice, language),
        answer=answer,
        confidence=signals.confidence,
        status=DRAFTED,
        citations=[citation(h) for h in cited],
        drafter=drafter,
        signals=signal_map,
    )


class OfflineDrafter:
    name = "offline"

    def __init__(self, kb: KnowledgeBase, k: int = 5) -> None:
        self.kb = kb
        self.k = k

    def draft_batch(
        self,
        session: Session,
        workspace: str,
        requests: list[Request],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Draft]:
        drafts = []
        for number, r in enumerate(requests, start=1):
            hits = self.kb.search(session, workspace, r.question, k=self.k, product=r.product)
            drafts.append(compose(r.ref, r.question, r.language, hits, self.kb.settings.abstain_threshold))
            if progress:
                progress(number, len(requests))
        return drafts
