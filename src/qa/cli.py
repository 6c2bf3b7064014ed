"""`qa index | ask | chat | eval | serve`: parse, call one library function, print text or --json.

Heavy libraries (torch, faiss, gradio) are imported inside the commands, so `qa --help` is instant.
Errors we expect (bad input, missing index, busy lock) become one-line messages and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import QAError, UsageError
from qa.logs import log_to_stderr
from qa.options import add_flag, flag_values

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.embedding import Embedder
    from qa.eval_types import EvalRun

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the model's load bar is noise on stderr
    log_to_stderr()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        result: int = args.func(args)
        sys.stdout.flush()  # here, not at exit: a reader that went away is handled below
        return result
    except BrokenPipeError:
        # The reader stopped reading (`qa ask ... | head`): end quietly, as a pipe's writer does, and point
        # stdout at /dev/null so the interpreter's last flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if isinstance(exc, QAError):
            print(f"qa: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Ask questions of your documents; get cited answers."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        for flag in ("--corpus", "--index", "--model", "--embed-backend"):
            add_flag(p, flag)

    p = sub.add_parser("index", help="build or update the index from the corpus folder")
    common(p)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything from scratch")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--watch", action="store_true", help="keep watching the corpus and re-index on change")
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be added, updated and removed; embed nothing"
    )
    p.add_argument(
        "--summaries",
        action="store_true",
        help="also have the local model summarise each document now (else on the first question about it)",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer a question with cited sources")
    common(p)
    p.add_argument(
        "question",
        help='the question, or - to read one per line from stdin (a line may be JSON: {"question", "history"})',
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    add_flag(p, "--top-k")
    add_flag(p, "--backend")
    add_flag(p, "--retrieval")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal (follow-ups, sources, !help)")
    common(p)
    add_flag(p, "--top-k")
    add_flag(p, "--backend", help="answer mode to start in (or QA_BACKEND); !mode switches it")
    p.add_argument("--json", action="store_true", help="stdin not a terminal: one JSON object per line")
    p.add_argument(
        "--history-file", type=Path, help="where typed lines are kept (default ~/.cache/qa/chat_history)"
    )
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("serve", help="start the web chat")
    common(p)
    add_flag(p, "--backend", help="default answer mode for new chats")
    p.add_argument("--no-index", action="store_true", help="do not build or update the index before serving")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "eval", help="score retrieval, answers, citations and abstention on eval/questions.jsonl"
    )
    common(p)
    p.add_argument("--questions", type=Path, help="evaluation set (default eval/questions.jsonl)")
    p.add_argument("--out", type=Path, help="results folder (default eval/results)")
    add_flag(p, "--backend", help="also evaluate this generator backend beside extractive")
    p.add_argument(
        "--check", action="store_true", help="exit 1 when a metric falls below eval/thresholds.toml"
    )
    p.add_argument("--quick", action="store_true", help="extractive hybrid only (what --check needs)")
    p.add_argument("--dataset", help="a public set instead: squad2, nfcorpus or halueval (eval/README.md)")
    p.add_argument(
        "--record", type=Path, metavar="FILE", help="keep what the local model writes in FILE (for --replay)"
    )
    p.add_argument(
        "--replay",
        type=Path,
        metavar="FILE",
        help="answer prompts recorded in FILE from it, the rest with the model (a run in a minute, eval/README.md)",
    )
    p.add_argument("--limit", type=int, help="with --dataset: a fixed random sample of N questions")
    p.add_argument("--seed", type=int, default=0, help="with --dataset: the sample's seed (default 0)")
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="also grid-search the abstention thresholds (held-out report)",
    )
    p.set_defaults(func=cmd_eval)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qa")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings, with the command line's flags on top (both declared in qa.options)."""
    from qa.config import Settings

    return Settings.from_env(**flag_values(args))


def cmd_index(args: argparse.Namespace) -> int:
    from qa.embedding import lazy_embedder
    from qa.indexing import build_index

    settings = settings_from(args)
    embedder = lazy_embedder(settings)  # loads the model only if something needs embedding
    if args.dry_run and args.watch:
        raise UsageError("--dry-run and --watch do not go together: run one, then the other.")
    if args.dry_run and args.summaries:
        raise UsageError("--dry-run writes nothing, so it cannot write summaries: drop one of them.")
    summary = build_index(settings, embedder, rebuild=args.rebuild, dry_run=args.dry_run)
    _print_summary(summary.to_json() if args.json else summary.describe(), args.json)
    if args.summaries:
        _write_summaries(settings, embedder)
    if args.watch:
        from watchfiles import watch

        print(f"qa index: watching {settings.corpus_dir} (Ctrl-C to stop)", file=sys.stderr)
        for _changes in watch(settings.corpus_dir, debounce=800, raise_interrupt=False):
            summary = build_index(settings, embedder)
            _print_summary(summary.to_json() if args.json else summary.describe(), args.json)
    return 0


def _write_summaries(settings: Settings, embedder: Embedder) -> None:
    from qa.engine import QA

    def report(i: int, n: int, title: str, outcome: str) -> None:
        print(f"qa index: summary {i}/{n}: {title[:60]}: {outcome}", file=sys.stderr, flush=True)

    written = QA(settings, embedder=embedder).write_summaries(report)
    print(f"qa index: {written} document summar{'y' if written == 1 else 'ies'} written", file=sys.stderr)


def _print_summary(summary: dict[str, Any] | str, as_json: bool) -> None:
    print(json.dumps(summary) if as_json else summary, flush=True)


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.engine import QA
    from qa.questions import QuestionError
    from qa.terminal import format_answer

    settings = settings_from(args)
    if args.question != "-" and not args.question.strip():
        raise QuestionError("The question is empty: type a question about the documents.")
    qa = QA(settings)
    if args.question != "-":
        answer = qa.ask(args.question)
        print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else format_answer(answer))
        return 0
    from qa.chat import request_from_line

    status = 0
    if isinstance(sys.stdin, io.TextIOWrapper):  # bytes that are not UTF-8 become U+FFFD, not a traceback
        sys.stdin.reconfigure(errors="replace")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            question, history = request_from_line(line)
            answer = qa.ask(question, history)
        except QuestionError as exc:
            print(json.dumps({"question": line.rstrip("\n"), "error": str(exc)}), flush=True)
            status = EXIT_USAGE
            continue
        print(
            json.dumps(answer.to_json(), ensure_ascii=False) if args.json else format_answer(answer),
            flush=True,
        )
    return status


def cmd_chat(args: argparse.Namespace) -> int:
    from qa.chat import run_chat
    from qa.engine import QA

    settings = settings_from(args)
    qa = QA(settings)
    history_file = args.history_file or settings.cache_dir / "chat_history"
    return run_chat(qa, sys.stdin, sys.stdout, history_file, args.json, documents=len(qa.documents()))


def cmd_serve(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from qa.engine import open_qa

    settings = settings_from(args)
    # Importing Gradio is most of the start (2.6 s of 3.6). The pipeline (the embedder's load and checks,
    # the index check) is opened on a thread meanwhile: ONNX Runtime and hashing release the GIL, so on two
    # cores the two overlap. Its errors are raised here, by `result()`, as if it had run in line.
    with ThreadPoolExecutor(max_workers=1) as pool:
        opening = pool.submit(open_qa, settings, not args.no_index)
        from qa.webapp import serve

        qa = opening.result()
    serve(settings, qa=qa)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.config import parse_backend
    from qa.evaluation import run_eval

    settings = settings_from(args)
    extra = parse_backend(args.backend) if args.backend else None
    if args.record and args.replay:
        raise UsageError(
            "--record and --replay do not go together: --replay FILE also adds what it asks anew."
        )
    if args.replay and not args.replay.is_file():
        raise UsageError(f"--replay: there is no recording {args.replay.name}; make one with --record.")
    if args.record or args.replay:
        settings = dataclasses.replace(
            settings, llm_recording=args.record or args.replay, llm_replay=bool(args.replay)
        )
    if args.limit is not None and not args.dataset:
        raise UsageError("--limit samples a public set: use it with --dataset.")
    if args.dataset:
        from qa.datasets import parse_dataset
        from qa.datasets.runner import run_dataset

        if args.questions or args.calibrate:
            raise UsageError("--questions and --calibrate are for the project's own set, not --dataset.")
        return run_dataset(
            settings,
            parse_dataset(args.dataset),
            out=args.out,
            limit=args.limit,
            seed=args.seed,
            backend=extra,
            quick=args.quick,
            check=args.check,
        )
    run = run_eval(
        settings,
        questions=args.questions,
        out=args.out,
        backend=extra,
        check=args.check,
        quick=args.quick,
        calibration=True if args.calibrate else None,
    )
    return report_eval(run)


def report_eval(run: EvalRun) -> int:
    """Print what `qa eval` shows after a run; the exit code is 1 when --check found a metric out of bounds."""
    from qa.eval_report import summary_text

    print(summary_text(run))
    if run.check is not None:
        for failure in run.check.failures:
            print(f"qa eval --check: FAILED {failure}", file=sys.stderr)
        verdict = "passed" if run.passed else "FAILED"
        print(f"qa eval --check ({run.main}): {verdict} against {run.check.thresholds}")
    return 0 if run.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
