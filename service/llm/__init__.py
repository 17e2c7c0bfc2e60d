"""LLM access: the chat model chosen in settings (one `match`), prompts from files, token counting.

Public surface: `get_chat_model(settings)`, `load_prompt(settings, name, language)`,
`count_tokens`, `truncate`.
"""

from __future__ import annotations

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate

from service.llm.tokens import count_tokens, truncate
from service.settings import Settings

__all__ = ["count_tokens", "get_chat_model", "load_prompt", "truncate"]


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


def load_prompt(settings: Settings, name: str, language: str) -> ChatPromptTemplate:
    """prompts/{name}.{ja|en}.system.txt and .user.txt as a chat prompt."""
    lang = "en" if language == "en" else "ja"
    folder = settings.prompts_dir
    try:
        system = (folder / f"{name}.{lang}.system.txt").read_text(encoding="utf-8")
        user = (folder / f"{name}.{lang}.user.txt").read_text(encoding="utf-8")
    except OSError as exc:
        raise LLMConfigError(f"prompt files for {name!r} ({lang}) not found in {folder}") from exc
    # The system text shows JSON braces literally: escape them for the template.
    return ChatPromptTemplate.from_messages([("system", system.replace("{", "{{").replace("}", "}}")), ("human", user)])
