# Two commands matter: `make run` and `make test`. Both set up .venv first when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_DISABLE_PROGRESS_BARS := 1

.PHONY: install run test test-fast fmt lint typecheck unit eval eval-check index bench clean install-llm test-setup install-ocr eval-public eval-public-if-data

# The local model (llama-cpp-python, compiled once, and the GGUF weights in ~/.cache/qa/models, README
# "Generative answers"): part of `make install`, since the product's answers depend on it. QA_LLM=off skips
# it; LLM_MODELS picks the sizes (the 135m model is always installed: the tests use it).
QA_LLM ?= on
LLM_MODELS ?= 1.5b

install: $(STAMP)

# torch goes in first and alone: its CPU build lies on this machine's disk, and letting a dependency
# pull torch instead would fetch a multi-GB CUDA build. Then the ONNX export of the embedding model (once,
# ~10 s: the default embedder, so that answering never imports torch), then the local model: a failed
# compile does not fail the install, it says how to retry.
$(STAMP): pyproject.toml requirements/llm-runtime.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m qa.embedding
	@if [ "$(QA_LLM)" = off ]; then \
		echo "QA_LLM=off: the local model is not installed (answers stay extractive); later: make install-llm"; \
	else \
		PY=$(PY) scripts/install_llm.sh --optional $(LLM_MODELS); \
	fi
	touch $(STAMP)

index: $(STAMP)
	$(VENV)/bin/qa index

run: $(STAMP)
	$(VENV)/bin/qa serve

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests app.py eval bench scripts
	$(VENV)/bin/ruff format --check src tests app.py eval bench scripts

# Two runs: bench/ and eval/ both have a run.py, which mypy cannot check as one set of top-level modules.
typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy bench

unit: $(STAMP)
	$(VENV)/bin/pytest -q

# The quick loop while editing: lint, types and every test that needs no real model and no browser
# (2.5 minutes against the full suite's 4.5 here, before its gates). `make test` is what must pass to land.
test-fast: $(STAMP) lint typecheck
	$(VENV)/bin/pytest -q -m "not slow and not browser"

# Rewrites the code in the project's style (what `make lint` checks), fixing what ruff can fix.
fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests app.py eval bench scripts
	$(VENV)/bin/ruff format src tests app.py eval bench scripts

# The quality gate: extractive answers on eval/questions.jsonl must stay above eval/thresholds.toml.
# Results go to a temporary folder so test runs do not pile up in eval/results/.
eval-check: $(STAMP)
	$(VENV)/bin/qa index
	$(VENV)/bin/qa eval --quick --check --out "$$(mktemp -d)"


eval: $(STAMP)
	$(VENV)/bin/qa eval

# Benchmarks (not part of `make test`): installs the pinned [bench] extra once, writes bench/results.{json,md}.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

# The local model again (after a failed compile, or for other sizes): make install-llm LLM_MODELS="0.5b 1.5b".
# llama-cpp-python compiled once for this CPU, hash-pinned GGUF weights assembled in ~/.cache/qa/models.
install-llm: $(STAMP)
	PY=$(PY) scripts/install_llm.sh $(LLM_MODELS)

# OCR for scanned PDFs and pictures (README "File formats"): Debian's Tesseract, its English models inside.
install-ocr:
	command -v tesseract >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng; }


# What only the tests need, beyond `make install`: headless Chromium for tests/test_browser.py (apt-get when
# root with apt; otherwise it says what will be skipped and the command that installs it).
test-setup:
	@scripts/install_browser.sh

# Public data (README "How it compares"): 100 SQuAD 2.0 questions and 100 NFCorpus queries over a fixed
# 200-document sub-corpus, against eval/public_thresholds.toml. Measured on 2 shared cores (load 4-5): warm
# cache 35 s wall (13 s CPU); empty ~/.cache/qa (as in CI) about 250 s wall and 140 s CPU, nearly all of it
# embedding the two indexes (649 and 638 chunks), which are then kept in ~/.cache/qa/datasets/.
eval-public: $(STAMP) ; for d in squad2 nfcorpus; do $(VENV)/bin/qa eval --dataset $$d --quick --check --out "$$(mktemp -d)" || exit 1; done

# In `make test` the public gate runs where the public data is (QA_DATASETS, else ../shared/datasets beside
# the checkout); a checkout without it says so and what to set, instead of failing. `make eval-public` alone
# always runs (and fails without the data).
DATASETS ?= $(or $(QA_DATASETS),$(abspath ../shared/datasets))
eval-public-if-data: $(STAMP)
	@if [ -d "$(DATASETS)/squad2" ] && [ -d "$(DATASETS)/nfcorpus" ]; then \
		QA_DATASETS="$(DATASETS)" $(MAKE) --no-print-directory eval-public; \
	else \
		echo "make test: public-data gate NOT RUN: no squad2/ and nfcorpus/ in $(DATASETS) (set QA_DATASETS to run it)"; \
	fi

test: test-setup lint typecheck unit eval-check eval-public-if-data

clean:
	rm -rf $(VENV) index/*
