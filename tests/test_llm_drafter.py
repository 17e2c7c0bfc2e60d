"""The LLM drafter end to end over real HTTP against a local OpenAI-compatible server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from service.db import session_scope
from service.drafting import NO_EVIDENCE, Draft, get_drafter
from service.drafting.request import Request
from service.knowledge_base import KnowledgeBase
from service.llm import count_tokens
from service.settings import Settings
from tests.openai_stub import ErrorEndpoint, OpenAIStub, prompt_text

NTP = Request("No.1", "サーバーの時刻はNTP等で同期されていますか。", "ja", None)
NTP_EN = Request("No.2", "Do you synchronise server clocks with NTP?", "en", None)


def reply(**fields: object) -> str:
    base = {"choice": "はい", "answer": "NTPで時刻を同期しています。", "citations": ["E1"], "confidence": 0.9}
    return json.dumps(base | fields, ensure_ascii=False)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def llm_kb(seeded_kb: KnowledgeBase, stub: OpenAIStub, **overrides: object) -> KnowledgeBase:
    options = {"llm_timeout_seconds": 2, "llm_concurrency": 1} | overrides
    settings = Settings(
        home=seeded_kb.settings.home, drafter="llm", llm_base_url=stub.base_url, llm_model="stub-model", **options
    )
    return KnowledgeBase(settings)


def draft(kb: KnowledgeBase, *requests: Request):  # noqa: ANN201
    with session_scope(kb.settings.resolved_database_url) as session:
        drafter = get_drafter(kb)
        return drafter.draft_batch(session, "seeds", list(requests)), drafter


def test_valid_reply_becomes_a_cited_llm_draft(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub)
    stub.replies.append(lambda body: reply(citations=["E1", "E2"]))
    (d,), drafter = draft(kb, NTP)
    assert d.drafter == "llm" and d.status == "drafted" and d.choice == "はい"
    assert d.answer == "NTPで時刻を同期しています。"
    sent = prompt_text(stub.requests[0])
    # The prompt is the Japanese template from prompts/, with the question fenced as text.
    assert "<question>\nサーバーの時刻はNTP等で同期されていますか。\n</question>" in sent
    assert "指示" in sent and "[E1]" in sent and "[E2]" in sent
    # Citations map back to the exact entries that were shown as E1 and E2.
    e1 = sent.split("[E1] ", 1)[1].split("\n", 1)[0]
    assert f"{d.citations[0].source} {d.citations[0].locator}".startswith(e1.split(" (")[0])
    assert len(d.citations) == 2 and 0 < d.confidence <= 1
    assert drafter.prompt_tokens == 100 and drafter.completion_tokens == 20


def test_english_question_uses_english_prompt(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub)
    stub.replies.append(lambda body: reply(choice="Yes", answer="Server clocks are synchronised with NTP."))
    (d,), _ = draft(kb, NTP_EN)
    assert d.choice == "Yes" and d.answer.startswith("Server clocks")
    assert "write the answer in English" in prompt_text(stub.requests[0])


def test_citing_evidence_not_given_is_retried_once(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub)
    stub.replies += [lambda body: reply(citations=["E9"]), lambda body: reply()]
    (d,), _ = draft(kb, NTP)
    assert len(stub.requests) == 2 and d.drafter == "llm"


def test_bad_citation_twice_falls_back_to_offline(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub)
    stub.replies += [lambda body: reply(citations=["not-an-id"])] * 2
    (d,), _ = draft(kb, NTP)
    assert len(stub.requests) == 2
    assert d.drafter == "offline_fallback" and d.status == "drafted"
    assert d.answer != "NTPで時刻を同期しています。" and d.citations  # the offline draft, from the evidence


def test_malformed_reply_falls_back(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub)
    stub.replies += [lambda body: "Yes, I think so.", lambda body: '{"choice": "maybe", "answer": 3']
    (d,), _ = draft(kb, NTP)
    assert len(stub.requests) == 2 and d.drafter == "offline_fallback"


def test_invalid_choice_word_is_rejected(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub)
    stub.replies += [lambda body: reply(choice="Yes")] * 2  # an English word on a Japanese sheet
    (d,), _ = draft(kb, NTP)
    assert d.drafter == "offline_fallback" and d.choice == "はい"


def test_timeout_falls_back(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub, llm_timeout_seconds=0.5)
    stub.replies += [lambda body: (reply(), 2.0)] * 2
    (d,), _ = draft(kb, NTP)
    assert len(stub.requests) == 2 and d.drafter == "offline_fallback"


def test_model_may_say_no_evidence(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub)
    stub.replies.append(lambda body: '{"no_evidence": true, "answer": "", "citations": [], "confidence": 0.2}')
    (d,), _ = draft(kb, NTP)
    assert d.status == NO_EVIDENCE and d.answer == "" and d.citations == []


def test_weak_evidence_never_reaches_the_model(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub)
    (d,), _ = draft(kb, Request("No.3", "貴社の株主構成を教えてください。", "ja", None))
    assert d.status == NO_EVIDENCE and stub.requests == []


def test_evidence_is_trimmed_to_the_token_budget(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub, llm_evidence_tokens=150)
    stub.replies.append(lambda body: reply())
    draft(kb, NTP)
    evidence = prompt_text(stub.requests[0]).split("根拠（過去の回答）:\n", 1)[1]
    assert count_tokens(evidence) <= 160 and "[E1]" in evidence


def test_concurrent_requests_each_get_their_own_evidence(seeded_kb: KnowledgeBase, stub: OpenAIStub) -> None:
    kb = llm_kb(seeded_kb, stub, llm_concurrency=3)

    def echo(body: dict) -> str:
        english = "<question>\nDo you" in prompt_text(body)
        return reply(choice="Yes" if english else "はい")

    stub.replies += [echo, echo]
    drafts, _ = draft(kb, NTP, NTP_EN)
    assert [d.choice for d in drafts] == ["はい", "Yes"] and all(d.drafter == "llm" for d in drafts)


# ---------------------------------------------------------------- an endpoint that refuses, or never answers


BACKUP = Request("No.4", "データのバックアップは何世代保管されていますか。", "ja", None)


def kb_at(seeded_kb: KnowledgeBase, base_url: str, **overrides: object) -> KnowledgeBase:
    options = {"llm_timeout_seconds": 2, "llm_concurrency": 1} | overrides
    settings = Settings(
        home=seeded_kb.settings.home, drafter="llm", llm_base_url=base_url, llm_model="stub-model", **options
    )
    return KnowledgeBase(settings)


def offline_drafts(seeded_kb: KnowledgeBase, *requests: Request) -> list[Draft]:
    kb = KnowledgeBase(Settings(home=seeded_kb.settings.home, drafter="offline"))
    with session_scope(kb.settings.resolved_database_url) as session:
        return get_drafter(kb).draft_batch(session, "seeds", list(requests))


def assert_offline_draft(fallback: Draft, offline: Draft) -> None:
    """The fallback is the offline drafter's own draft, only marked as a fallback."""
    assert fallback.status == offline.status == "drafted"
    assert (fallback.choice, fallback.answer, fallback.confidence) == (
        offline.choice,
        offline.answer,
        offline.confidence,
    )
    assert [c.entry_id for c in fallback.citations] == [c.entry_id for c in offline.citations]
    assert fallback.drafter == "offline_fallback" and offline.drafter == "offline"
    assert "llm_fallback" in fallback.flags and "llm_fallback" not in offline.flags


def fallback_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "service.drafting.llm" and r.levelno == logging.WARNING]


def test_a_refused_api_key_falls_back_at_once_and_says_so(
    seeded_kb: KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    with ErrorEndpoint(401, "Incorrect API key provided: sk-wrong.") as endpoint:
        kb = kb_at(seeded_kb, endpoint.base_url, llm_api_key="sk-wrong")
        with caplog.at_level(logging.WARNING, logger="service.drafting.llm"):
            drafts, _ = draft(kb, NTP, BACKUP)
    # One request per question: a refused key will not be accepted on a second try.
    assert [path for path, _ in endpoint.requests] == ["/v1/chat/completions"] * 2
    assert {auth for _, auth in endpoint.requests} == {"Bearer sk-wrong"}
    for fallback, offline in zip(drafts, offline_drafts(seeded_kb, NTP, BACKUP), strict=True):
        assert_offline_draft(fallback, offline)
        assert fallback.note.startswith(f"LLM failed: the LLM endpoint ({endpoint.base_url}) refused the API key")
        assert "HTTP 401" in fallback.note and "KOTAE_LLM_API_KEY" in fallback.note
    warnings = fallback_warnings(caplog)
    assert len(warnings) == 2
    for request in (NTP, BACKUP):
        (line,) = [w for w in warnings if f" {request.ref} " in w]
        assert "refused the API key" in line and "drafted offline" in line


def test_a_timeout_is_retried_once_then_named_on_the_draft(
    seeded_kb: KnowledgeBase, stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    kb = llm_kb(seeded_kb, stub, llm_timeout_seconds=0.5)
    stub.replies += [lambda body: (reply(), 2.0)] * 2
    with caplog.at_level(logging.WARNING, logger="service.drafting.llm"):
        (d,), _ = draft(kb, NTP)
    assert len(stub.requests) == 2  # a timeout may pass: asked once more
    (offline,) = offline_drafts(seeded_kb, NTP)
    assert_offline_draft(d, offline)
    assert d.note.startswith("LLM failed: no reply from the LLM within 0.5 s")
    (line,) = fallback_warnings(caplog)
    assert NTP.ref in line and "no reply from the LLM within 0.5 s" in line
