# The two set-up commands of the README: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test slow gate lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned: that version's CPU build is on the package index mirror of this machine
# kind, and pinning it keeps pip from pulling a multi-GB CUDA build for sentence-transformers.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/kotae ingest knowledge_base
	$(BIN)/kotae kb search "バックアップの世代数は？" -k 3
	$(BIN)/kotae kb search "Do you support multi-factor authentication?" -k 3

lint: $(VENV)/.installed
	$(BIN)/ruff check service tests eval
	$(BIN)/ruff format --check service tests eval

# Before a push: lint and every test but the slow end-to-end ones, in three processes (a file each
# at a time: much of the suite waits on servers and models).
test: lint
	$(BIN)/python -m pytest -q -n 3 --dist loadfile -m "not slow"

# CI runs these after `make test`: real worker processes, killed and restarted servers, the
# browser; then the eval gates (retrieval and drafting floors on the seeds and the held-out set).
slow: $(VENV)/.installed
	$(BIN)/python -m pytest -q -n 3 --dist loadfile -m slow

gate: $(VENV)/.installed
	$(BIN)/kotae eval seeds --gate --out eval/out
	$(BIN)/kotae eval heldout --gate --out eval/out

bench: $(VENV)/.installed
	$(BIN)/python eval/bench_ingest.py
