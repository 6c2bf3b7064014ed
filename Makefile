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

.PHONY: install run test lint typecheck unit eval eval-check index bench clean install-llm

install: $(STAMP)

# torch goes in first and alone: its CPU build lies on this machine's disk, and letting a dependency
# pull torch instead would fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
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

# Optional offline generative answers (`--backend llamacpp`; README "Generative answers"): llama-cpp-python,
# compiled once for this CPU, and hash-pinned GGUF weights assembled in ~/.cache/qa/models (QA_MODEL_CACHE).
# The 135m model always (its tests use it), plus LLM_MODELS: make install-llm LLM_MODELS="0.5b 1.5b".
LLM_MODELS ?= 1.5b
install-llm: $(STAMP)
	PY=$(PY) scripts/install_llm.sh $(LLM_MODELS)

eval-public: $(STAMP) ; for d in squad2 nfcorpus; do $(VENV)/bin/qa eval --dataset $$d --quick --check --out "$$(mktemp -d)" || exit 1; done
test: lint typecheck unit eval-check eval-public

clean:
	rm -rf $(VENV) index/*
