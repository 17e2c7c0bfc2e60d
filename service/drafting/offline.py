"""The offline drafter: no LLM. The draft is the best evidence itself, with its choice and citations."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session

from service.drafting import evidence
from service.drafting.calibration import Calibration, abstains, feature_values
from service.drafting.calibration_store import calibration_for
from service.drafting.choices import evidence_choice, implied_choice, label, prose_choice
from service.drafting.flags import (
    CHOICE_INFERRED,
    CHOICE_WITHHELD,
    CONFLICTING,
    INJECTION,
    INVERTED_CHOICE,
    NEEDS_TRANSLATION,
    OTHER_PRODUCT,
    PARTIAL,
    STALE,
    is_stale,
    opposite_facts,
    other_product,
)
from service.drafting.model import DRAFTED, Citation, Draft, no_evidence
from service.drafting.questions import QuestionShape, analyse
from service.drafting.request import Request
from service.ingest.choices import NO, YES, normalize_choice
from service.knowledge_base import KnowledgeBase, SearchHit

CITATION_SIMILARITY_MARGIN = 0.015  # further entries are cited when this close to the best one and agreeing
PARTIAL_COVERAGE = 0.6  # a compound question whose words the evidence covers less than this may be answered in part
EVIDENCE_DEPTH = 10  # hits handed to an evidence observer (the eval ranks this deep)
EvidenceObserver = Callable[[Request, list[SearchHit]], None]


def _row_key(hit: SearchHit) -> tuple[str, str | None, str]:
    """Entries that are one row of a multi-product sheet share this key."""
    entry = hit.entry
    return entry.source.name, entry.sheet, entry.locator


def _merge_product_variants(hits: list[SearchHit]) -> list[tuple[SearchHit, list[SearchHit]]]:
    """Hits grouped by sheet row, best first: a row of a multi-product sheet is cited once."""
    groups: dict[tuple[str, str | None, str], list[SearchHit]] = {}
    for hit in hits:
        groups.setdefault(_row_key(hit), []).append(hit)
    return [(members[0], members) for members in groups.values()]


def citation(hit: SearchHit, variants: list[SearchHit] | None = None) -> Citation:
    entry = hit.entry
    products = [v.entry.product for v in (variants or [hit]) if v.entry.product]
    return Citation(
        entry_id=entry.id,
        source=entry.source.name,
        locator=entry.locator,
        text=f"{entry.question}\n{entry.answer}",
        product=", ".join(dict.fromkeys(products)) or None,
    )


def _choice_of(hit: SearchHit, question: str) -> str | None:
    entry = hit.entry
    if entry.source.kind == "prose" and not entry.choice:
        return prose_choice(question, entry.answer, evidence.content_bigrams)
    return evidence_choice(entry.choice, entry.answer)


def _carry_choice(
    shape: QuestionShape, top: SearchHit, choice: str | None, language: str
) -> tuple[str | None, str, str | None]:
    """(choice, note, flag): the prior choice when it may answer this question.

    An open question gets words, not Yes/No. A question that points the other way round from the
    prior question ("stored in plaintext?" against "stored encrypted?") gets the prior Yes/No
    inverted, flagged so a person confirms it.
    """
    if not shape.wants_choice:
        return None, "", None
    inferred = False
    if choice is None and top.entry.source.kind != "prose":
        # "AWS Shield による対策" answers "DDoS対策を実施していますか" with a Yes it never wrote.
        choice = implied_choice(top.entry.answer)
        inferred = choice is not None
    if choice is None:
        note = (
            "根拠の回答にはい/いいえの記載がありません。" if language == "ja" else "The cited answer states no Yes/No."
        )
        return None, note, CHOICE_WITHHELD
    prior = analyse(top.entry.question, top.entry.language)
    if inferred and prior.negative != shape.negative:
        choice = None  # an inferred Yes turned round is two guesses: the reviewer chooses
        note = (
            "質問の向きが過去の質問と逆です。はい/いいえは記入してください。"
            if language == "ja"
            else "The question asks the opposite way round from the prior question: choose Yes or No yourself."
        )
        return None, note, CHOICE_WITHHELD
    if prior.negative == shape.negative:
        if not inferred:
            return choice, "", None
        if language == "ja":
            note = "根拠の回答は対策の内容のみを記載しているため、「はい」と推定しました。確認してください。"
        else:
            note = "The cited answer describes the measure without a Yes/No: Yes was inferred, please confirm."
        return choice, note, CHOICE_INFERRED
    if choice in (YES, NO) and shape.parts == 1:
        if language == "ja":
            note = "質問の向きが過去の質問と逆のため、過去の回答の はい/いいえ を反転しました。確認してください。"
        else:
            note = "The question asks the opposite way round from the prior question: the prior Yes/No was inverted."
        return (NO if choice == YES else YES), note, INVERTED_CHOICE
    if language == "ja":
        note = "質問の向きが過去の質問と逆です。はい/いいえは記入してください。"
    else:
        note = "The question asks the opposite way round from the prior question: choose Yes or No yourself."
    return None, note, CHOICE_WITHHELD


def compose(
    ref: str,
    question: str,
    language: str,
    hits: list[SearchHit],
    threshold: float,
    drafter: str = "offline",
    *,
    product: str | None = None,
    stale_months: int = 18,
    calibration: Calibration | None = None,
    canonical_review: Mapping[str, bool] | None = None,
) -> Draft:
    """A draft from retrieved evidence, or an honest no_evidence when the evidence is too weak.

    With a calibration, confidence is the fitted probability that the draft is right and the
    draft abstains below the calibration's own threshold; without one, the hand-set blend of the
    evidence signals against `threshold`.
    """
    shape = analyse(question, language)
    signals = evidence.score(question, language, hits)
    signal_map = {k: v for k, v in vars(signals).items() if k != "confidence" and v is not None}
    signal_map["heuristic"] = signals.confidence
    flags: list[str] = [INJECTION] if shape.injection else []
    cutoff = calibration.abstain_below if calibration else threshold
    if not hits:
        return no_evidence(ref, question, language, 0.0, drafter, signal_map, flags)
    rows = _merge_product_variants(hits)
    top, top_variants = rows[0]
    choice = _choice_of(top, question)
    cited = [(top, top_variants)]
    disagree = False
    for hit, variants in rows[1:]:
        close = (top.dense_similarity or 0) - (hit.dense_similarity or 0) <= CITATION_SIMILARITY_MARGIN
        if language == "ja":  # both retrievers must back a further citation where both run
            close = close and (hit.lexical_rank or 99) <= 5
        if not close or len(cited) >= 3:
            continue
        other = _choice_of(hit, question)
        if other is not None and choice is not None and other != choice:
            disagree = True  # cited too: the reviewer sees both sides
        cited.append((hit, variants))
    variant_choices = {_choice_of(v, question) for v in top_variants} - {None}
    cited_hits = [h for h, _ in cited]
    if disagree or len(variant_choices) > 1 or opposite_facts(question, [h.entry.answer for h in cited_hits]):
        flags.append(CONFLICTING)

    carried, why, choice_flag = _carry_choice(shape, top, choice, language)
    notes: list[str] = [why] if why else []
    if choice_flag:
        flags.append(choice_flag)
    evidence_language = top.entry.language
    # A bare "有" says nothing a reviewer can send: take the words of the first cited entry that has some.
    answer = next((h.entry.answer for h in cited_hits if normalize_choice(h.entry.answer) is None), top.entry.answer)
    if evidence_language in ("ja", "en") and evidence_language != language:
        # Never paste Japanese words into an English customer's sheet (or the reverse).
        answer = ""
        flags.append(NEEDS_TRANSLATION)
        notes.append(
            "根拠が英語です。回答文を日本語で記入してください（根拠は引用にあります）。"
            if language == "ja"
            else "The evidence is in Japanese: write the English answer (the evidence is in the citations)."
        )
    if shape.parts > 1 and (NEEDS_TRANSLATION in flags or signals.coverage < PARTIAL_COVERAGE):
        flags.append(PARTIAL)
    # A canonical answer is as old as its last review; any other row as old as its sheet.
    canonical_review = canonical_review or {}
    sheet_dated = [h for h in cited_hits if h.entry.id not in canonical_review]
    if is_stale(sheet_dated, stale_months) or any(canonical_review.get(h.entry.id) for h in cited_hits):
        flags.append(STALE)
    if other_product(cited_hits, product):
        flags.append(OTHER_PRODUCT)
    confidence = signals.confidence
    if calibration:
        confidence = calibration.probability(feature_values(signal_map, signals.confidence, flags, shape, len(cited)))
    if shape.injection:
        # Words that match the knowledge base must not make an instruction look answerable.
        confidence = min(confidence, cutoff * 0.9)
    if abstains(calibration, threshold, confidence, signal_map, language, top.evidence_view):
        return no_evidence(
            ref, question, language, round(confidence, 4), drafter, signal_map, [INJECTION] if shape.injection else []
        )
    return Draft(
        ref=ref,
        question=question,
        language=language,
        choice=label(carried, language),
        answer=answer,
        confidence=round(confidence, 4),
        status=DRAFTED,
        citations=[citation(h, v) for h, v in cited],
        drafter=drafter,
        signals=signal_map,
        flags=flags,
        note=" ".join(notes),
    )


def review_state(session: Session, workspace: str) -> dict[str, bool]:
    """The workspace's canonical answers (entry id -> past its review-by date), read once per batch."""
    from service.knowledge_base import get_workspace
    from service.library import canonical_review  # the library builds on drafting's neighbours: import late

    return canonical_review(session, get_workspace(session, workspace).id)


def resolve_calibration(
    session: Session, workspace: str, kb: KnowledgeBase, given: Calibration | None, per_workspace: bool
) -> tuple[Calibration | None, str]:
    if per_workspace:
        return calibration_for(session, workspace, kb.settings.calibration_min_samples)
    return given, ("given" if given else "uncalibrated signals")


class OfflineDrafter:
    name = "offline"

    def __init__(
        self, kb: KnowledgeBase, k: int = 5, calibration: Calibration | None = None, per_workspace: bool = False
    ) -> None:
        """`calibration`: the one to use; `per_workspace`: the workspace's own, else the shipped one."""
        self.kb = kb
        self.k = k
        self.calibration = calibration
        self.per_workspace = per_workspace

    def draft_batch(
        self,
        session: Session,
        workspace: str,
        requests: list[Request],
        progress: Callable[[int, int], None] | None = None,
        on_evidence: EvidenceObserver | None = None,
    ) -> list[Draft]:
        # The first k hits of a deeper search are the hits of a k-deep search: observing costs nothing.
        depth = max(self.k, EVIDENCE_DEPTH) if on_evidence else self.k
        calibration, calibration_source = resolve_calibration(
            session, workspace, self.kb, self.calibration, self.per_workspace
        )
        review = review_state(session, workspace)
        drafts = []
        for number, r in enumerate(requests, start=1):
            hits = self.kb.search(session, workspace, r.question, k=depth, product=r.product)
            if on_evidence:
                on_evidence(r, hits)
            drafts.append(
                compose(
                    r.ref,
                    r.question,
                    r.language,
                    hits[: self.k],
                    self.kb.settings.abstain_threshold,
                    product=r.product,
                    stale_months=self.kb.settings.stale_evidence_months,
                    calibration=calibration,
                    canonical_review=review,
                )
            )
            drafts[-1].confidence_source = calibration_source
            if progress:
                progress(number, len(requests))
        return drafts
