"""An LLM judge for the holdout eval: does the draft say what the vendor really answered?

chrF and e5 similarity measure words; a judge reads meaning ("daily backups kept 30 days" against
"毎日取得し30日保管"). It runs only when an LLM is configured (`KOTAE_DRAFTER=llm`), through the same
provider the drafter uses (`service.llm.get_chat_model`), with its wording in
`prompts/judge.system.txt` and `prompts/judge.user.txt` (or KOTAE_PROMPTS_DIR).

A judge that fails (unreachable, a reply that is not the expected JSON) is asked once more, then
the item carries verdict None with the reason, the failure is logged and counted in the summary:
never a silent "agree".
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate

from service.llm import LLMConfigError, describe_llm_error, get_chat_model, is_permanent, prompt_folder, truncate
from service.settings import Settings

log = logging.getLogger(__name__)

VERDICTS = ("agree", "partial", "disagree")
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
# Long answers are cut to this many tokens each: the judge needs the gist, not a policy document.
TEXT_TOKENS = 600


class JudgeReplyError(ValueError):
    """The judge's reply is not one JSON object with a known verdict."""


@dataclass
class Verdict:
    verdict: str | None  # agree / partial / disagree; None: the judge failed (reason says why)
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason}


def parse_verdict(content: str) -> Verdict:
    match = _JSON_OBJECT.search(content or "")
    if not match:
        raise JudgeReplyError("the judge's reply holds no JSON object")
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise JudgeReplyError(f"the judge's reply is not JSON: {exc}") from exc
    verdict = str(data.get("verdict", "")).strip().lower() if isinstance(data, dict) else ""
    if verdict not in VERDICTS:
        raise JudgeReplyError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    reason = " ".join(str(data.get("reason", "")).split())[:300]
    return Verdict(verdict, reason)


def load_judge_prompt(settings: Settings) -> ChatPromptTemplate:
    folder = prompt_folder(settings)
    try:
        system = (folder / "judge.system.txt").read_text(encoding="utf-8")
        user = (folder / "judge.user.txt").read_text(encoding="utf-8")
    except OSError as exc:
        raise LLMConfigError(f"judge prompt files (judge.system.txt, judge.user.txt) not found in {folder}") from exc
    # The system text shows JSON braces literally: escape them for the template.
    return ChatPromptTemplate.from_messages([("system", system.replace("{", "{{").replace("}", "}}")), ("human", user)])


def stated(choice: str | None, answer: str) -> str:
    """A side as the judge reads it: the Yes/No/N/A first, then the words."""
    text = " ".join(filter(None, [f"[{choice}]" if choice else "", answer.strip()]))
    return truncate(text, TEXT_TOKENS) if text else "(nothing)"


class LLMJudge:
    """One verdict per drafted holdout item; counts its calls and failures."""

    def __init__(self, settings: Settings, model: BaseChatModel | None = None) -> None:
        self.settings = settings
        self.prompt = load_judge_prompt(settings)
        self.model = model or get_chat_model(settings)
        self.calls = 0
        self.failures = 0

    def judge(self, question: str, real: str, draft: str) -> Verdict:
        messages = self.prompt.format_messages(question=truncate(question, TEXT_TOKENS), real=real, draft=draft)
        reason = ""
        for _attempt in range(2):
            self.calls += 1
            try:
                message = self.model.invoke(messages)
                content = message.content if isinstance(message.content, str) else json.dumps(message.content)
                return parse_verdict(content)
            except Exception as exc:  # noqa: BLE001 - named on the item, logged and counted below
                reason = describe_llm_error(exc, self.settings)
                if is_permanent(exc):
                    break  # a refused key or an unknown model will not change on a second try
        self.failures += 1
        log.warning("the holdout judge failed, item left unjudged: %s", reason)
        return Verdict(None, f"judge failed: {reason}")


def make_judge(settings: Settings) -> LLMJudge | None:
    """The judge when an LLM is configured (the LLM drafter is on), else None: offline stays offline."""
    return LLMJudge(settings) if settings.drafter == "llm" else None
