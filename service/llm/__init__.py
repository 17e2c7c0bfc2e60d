"""LLM access: the chat model chosen in settings (one `match`), prompts from files, token counting.

Public surface: `get_chat_model(settings)`, `load_prompt(settings, name, language)`,
`prompt_folder(settings)`, `describe_llm_error`, `is_permanent`, `LLMConfigError`,
`count_tokens`, `truncate`.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from importlib.abc import Traversable

import httpx
import openai
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate

from service.llm.tokens import count_tokens, truncate
from service.settings import Settings

__all__ = [
    "LLMConfigError",
    "count_tokens",
    "describe_llm_error",
    "get_chat_model",
    "is_permanent",
    "load_prompt",
    "prompt_folder",
    "truncate",
]


class LLMConfigError(RuntimeError):
    pass


def get_chat_model(settings: Settings) -> BaseChatModel:
    match settings.llm_provider:
        case "openai":
            from langchain_openai import ChatOpenAI

            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
            return ChatOpenAI(
                model=settings.llm_model,
                base_url=settings.llm_base_url,
                api_key=key,
                temperature=0,
                timeout=settings.llm_timeout_seconds,
                max_retries=0,  # retries are ours: once, then the offline draft
            )
        case "ollama":
            try:
                from langchain_ollama import ChatOllama
            except ImportError as exc:
                raise LLMConfigError("KOTAE_LLM_PROVIDER=ollama needs `pip install langchain-ollama`") from exc
            return ChatOllama(model=settings.llm_model, base_url=settings.llm_base_url, temperature=0, format="json")
        case "llamacpp":
            try:
                from langchain_community.chat_models import ChatLlamaCpp
            except ImportError as exc:
                raise LLMConfigError(
                    "KOTAE_LLM_PROVIDER=llamacpp needs `pip install langchain-community llama-cpp-python`"
                ) from exc
            if not settings.llm_model_path:
                raise LLMConfigError("KOTAE_LLM_MODEL_PATH must name a GGUF file for llamacpp")
            return ChatLlamaCpp(model_path=str(settings.llm_model_path), temperature=0, n_ctx=8192)
        case other:
            raise LLMConfigError(f"unknown LLM provider {other!r}")


def prompt_folder(settings: Settings) -> Traversable:
    """KOTAE_PROMPTS_DIR when set (a team's own wording), else the prompts shipped with the package."""
    if settings.prompts_dir is not None:
        return settings.prompts_dir.expanduser()
    return resources.files("service") / "prompts"


def load_prompt(settings: Settings, name: str, language: str) -> ChatPromptTemplate:
    """{name}.{ja|en}.system.txt and .user.txt of the prompt folder as a chat prompt."""
    lang = "en" if language == "en" else "ja"
    folder = prompt_folder(settings)
    try:
        system = (folder / f"{name}.{lang}.system.txt").read_text(encoding="utf-8")
        user = (folder / f"{name}.{lang}.user.txt").read_text(encoding="utf-8")
    except OSError as exc:
        raise LLMConfigError(f"prompt files for {name!r} ({lang}) not found in {folder}") from exc
    # The system text shows JSON braces literally: escape them for the template.
    return ChatPromptTemplate.from_messages([("system", system.replace("{", "{{").replace("}", "}}")), ("human", user)])


# Failures that a second try cannot mend: the configuration is wrong.
_PERMANENT = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError, LLMConfigError)


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, _PERMANENT)


def describe_llm_error(exc: BaseException, settings: Settings) -> str:
    """One line a reviewer or operator can act on: a refused key reads differently from a bad reply."""
    where = settings.llm_base_url or "the default endpoint"
    match exc:
        case openai.AuthenticationError():
            return f"the LLM endpoint ({where}) refused the API key (HTTP 401): check KOTAE_LLM_API_KEY"
        case openai.PermissionDeniedError():
            return f"the LLM endpoint ({where}) denied access (HTTP 403)"
        case openai.NotFoundError():
            return f"model {settings.llm_model!r} not found at {where} (HTTP 404): check KOTAE_LLM_MODEL"
        case openai.RateLimitError():
            return f"the LLM endpoint ({where}) is rate limiting (HTTP 429)"
        case openai.APITimeoutError() | asyncio.TimeoutError() | httpx.TimeoutException():
            return f"no reply from the LLM within {settings.llm_timeout_seconds:g} s"
        case openai.APIConnectionError() | httpx.ConnectError():
            return f"cannot reach the LLM endpoint at {where}"
        case openai.APIStatusError():
            return f"the LLM endpoint ({where}) answered HTTP {exc.status_code}"
        case LLMConfigError():
            return str(exc)
        case ValueError():  # an unusable reply (service.drafting.llm.InvalidReply)
            return f"unusable reply: {exc}"[:300]
        case _:
            return f"{type(exc).__name__}: {exc}"[:300]
