"""Our pipeline against the raw encoder and against LlamaIndex, measured side by side in one process.

    .venv/bin/python bench/pipeline.py      # prints one JSON object

- index_vs_encode: a fresh `qa index` (build_index, model already loaded) on ~300 synthetic documents, in
  chunks/s, divided by plain `SentenceTransformer.encode` on the same chunk texts. Rounds alternate so both
  see the same load.
- Query latency: `QA.ask` (retrieval + extractive answer), warm, over every evaluation question.
- LlamaIndex with default settings on corpus/ and the same model folder: SimpleDirectoryReader,
  VectorStoreIndex (default chunking), retriever with similarity_top_k=5; build time, retrieval latency and
  hit@5, against ours on the same corpus and queries. Follow-up questions are condensed the way `QA.ask`
  condenses them and both retrievers get the same standalone query (LlamaIndex's retriever has no history).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from common import CORPUS, EvalQuery, eval_queries, is_hit, log, median, pct, rank_scores, stopwatch
from retrieval_quality import ranked_hits
from synthetic_corpus import write_corpus

from qa.config import RetrievalMode, Settings
from qa.embedding.pytorch import SentenceTransformerEmbedder
from qa.engine import QA
from qa.indexing import build_index
from qa.stores.faiss import Store

ROUNDS = 2  # alternating build / encode rounds on the synthetic corpus
SMALL_ROUNDS = 3  # builds of corpus/ (a few seconds each), per system
WARMUP = 3
TOP_K = 5
LLAMA_EXTS = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf"]  # what `qa index` reads (not sources.toml)


def index_vs_encode(work: Path, embedder: SentenceTransformerEmbedder) -> tuple[dict[str, Any], Settings]:
    corpus = work / "synthetic"
    write_corpus(corpus)
    settings = Settings(corpus_dir=corpus, index_dir=work / "index-synthetic")
    embedder.embed(["warm up the model"] * 4)
    build_s, encode_s = [], []
    texts: list[str] = []
    chunks = 0
    for round_no in range(ROUNDS):
        with stopwatch() as t:
            summary = build_index(settings, embedder, rebuild=True, show_progress=False)
        build_s.append(t[0])
        chunks = summary.chunks
        if not texts:
            texts = [c.embed_text() for c in Store.load(settings.index_dir).chunks.values()]
        with stopwatch() as t:
            embedder.model.encode(
                texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        encode_s.append(t[0])
        log(f"index_vs_encode round {round_no + 1}: build {build_s[-1]:.1f} s, encode {encode_s[-1]:.1f} s")
    index_rate = chunks / median(build_s)
    encode_rate = len(texts) / median(encode_s)
    return {
        "documents": len(list(corpus.iterdir())),
        "chunks": chunks,
        "index_chunks_per_s": round(index_rate, 2),
        "encode_chunks_per_s": round(encode_rate, 2),
        "index_vs_encode": round(index_rate / encode_rate, 3),
        "build_s": [round(x, 2) for x in build_s],
        "encode_s": [round(x, 2) for x in encode_s],
    }, settings


def our_side(work: Path, embedder: SentenceTransformerEmbedder, queries: list[EvalQuery]) -> dict[str, Any]:
    settings = Settings(corpus_dir=CORPUS, index_dir=work / "index-corpus")
    build_s = []
    for _ in range(SMALL_ROUNDS):
        with stopwatch() as t:
            build_index(settings, embedder, rebuild=True, show_progress=False)
        build_s.append(t[0])
    qa = QA(settings, embedder=embedder)
    for q in queries[:WARMUP]:
        qa.ask(q.question, q.history)
    total_ms, retrieve_ms = [], []
    for q in queries:
        answer = qa.ask(q.question, q.history)
        total_ms.append(answer.timings_ms["total"])
        retrieve_ms.append(answer.timings_ms["retrieve"])
    hybrid = rank_scores(ranked_hits(qa.store, embedder, queries, settings, RetrievalMode.HYBRID))
    dense = rank_scores(ranked_hits(qa.store, embedder, queries, settings, RetrievalMode.DENSE))
    return {
        "build_s": round(median(build_s), 3),
        "chunks": len(qa.store),
        "query_p50_ms": round(pct(total_ms, 50), 2),
        "query_p95_ms": round(pct(total_ms, 95), 2),
        "retrieve_p50_ms": round(pct(retrieve_ms, 50), 2),
        "retrieve_p95_ms": round(pct(retrieve_ms, 95), 2),
        "hybrid": {k: round(v, 4) for k, v in hybrid.items()},
        "dense": {k: round(v, 4) for k, v in dense.items()},
    }


def llama_build(corpus: Path, embed_model: Any, persist_dir: Path) -> tuple[Any, float]:
    """Read, chunk, embed and persist with LlamaIndex defaults; returns the index and seconds taken."""
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

    if persist_dir.exists():
        shutil.rmtree(persist_dir)
    with stopwatch() as t:
        documents = SimpleDirectoryReader(str(corpus), required_exts=LLAMA_EXTS, recursive=True).load_data()
        index = VectorStoreIndex.from_documents(documents, embed_model=embed_model)
        index.storage_context.persist(persist_dir=str(persist_dir))  # ours writes to disk too
    return index, t[0]


def llama_side(work: Path, queries: list[EvalQuery]) -> dict[str, Any]:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    embed_model = HuggingFaceEmbedding(model_name=Settings().model_path, device="cpu")
    embed_model.get_text_embedding("warm up the model")
    build_s = []
    index: Any = None
    for _ in range(SMALL_ROUNDS):
        index, seconds = llama_build(CORPUS, embed_model, work / "llama-corpus")
        build_s.append(seconds)
    retriever = index.as_retriever(similarity_top_k=TOP_K)
    for q in queries[:WARMUP]:
        retriever.retrieve(q.query)
    times, ranked = [], []
    for q in queries:
        with stopwatch() as t:
            nodes = retriever.retrieve(q.query)
        times.append(t[0] * 1000)
        if q.answerable:
            ranked.append(
                [is_hit(n.node.metadata.get("file_name", ""), n.node.get_content(), q) for n in nodes]
            )
    scores = rank_scores(ranked)
    # Our `embed` runs a query on one torch thread (see SentenceTransformerEmbedder.embed); LlamaIndex
    # uses torch's default. The same setting for LlamaIndex separates that from the rest of the pipeline.
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one_thread = []
        for q in queries:
            with stopwatch() as t:
                retriever.retrieve(q.query)
            one_thread.append(t[0] * 1000)
    finally:
        torch.set_num_threads(previous)
    # Default chunks are 1024 (tiktoken) tokens; the model reads 256 word pieces and drops the rest.
    tokenizer = embed_model._model.tokenizer
    counts = [
        len(tokenizer(node.get_content(), add_special_tokens=False)["input_ids"])
        for node in index.docstore.docs.values()
    ]
    window = embed_model._model.max_seq_length
    return {
        "build_s": round(median(build_s), 3),
        "chunks": len(index.docstore.docs),
        "query_p50_ms": round(pct(times, 50), 2),
        "query_p95_ms": round(pct(times, 95), 2),
        "query_p50_ms_one_thread": round(pct(one_thread, 50), 2),
        "query_p95_ms_one_thread": round(pct(one_thread, 95), 2),
        "chunk_tokens_p50": round(pct([float(c) for c in counts], 50)),
        "share_of_text_past_model_window": round(
            sum(max(0, c - window) for c in counts) / max(sum(counts), 1), 3
        ),
        "hit1": round(scores["hit1"], 4),
        "hit5": round(scores["hit5"], 4),
        "mrr5": round(scores["mrr10"], 4),  # only 5 retrieved: MRR over the top 5
        "embed_model": embed_model,
    }


def run(work: Path) -> dict[str, Any]:
    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)
    queries = eval_queries()
    log("pipeline: index vs encode on the synthetic corpus")
    scaling, synthetic_settings = index_vs_encode(work, embedder)
    log(f"pipeline: {scaling}")
    log("pipeline: ours on corpus/")
    ours = our_side(work, embedder, queries)
    log(f"pipeline: ours {ours}")
    log("pipeline: LlamaIndex on corpus/")
    llama = llama_side(work, queries)
    embed_model = llama.pop("embed_model")
    log(f"pipeline: LlamaIndex {llama}")
    # Build on the synthetic corpus too: corpus/ is five files, so its builds are dominated by fixed costs.
    _, llama_synthetic_s = llama_build(synthetic_settings.corpus_dir, embed_model, work / "llama-synthetic")
    with stopwatch() as t:
        build_index(synthetic_settings, embedder, rebuild=True, show_progress=False)
    ours_synthetic_s = t[0]
    log(f"pipeline: synthetic builds: ours {ours_synthetic_s:.1f} s, LlamaIndex {llama_synthetic_s:.1f} s")
    return {
        **scaling,
        "query_p50_ms": ours["query_p50_ms"],
        "query_p95_ms": ours["query_p95_ms"],
        "ours_hit5": ours["hybrid"]["hit5"],
        "ours_dense_hit5": ours["dense"]["hit5"],
        "llamaindex_hit5": llama["hit5"],
        "build_vs_llamaindex": round(ours["build_s"] / llama["build_s"], 3),
        "query_vs_llamaindex": round(ours["query_p50_ms"] / llama["query_p50_ms"], 3),
        "retrieve_vs_llamaindex": round(ours["retrieve_p50_ms"] / llama["query_p50_ms"], 3),
        "query_vs_llamaindex_one_thread": round(ours["query_p50_ms"] / llama["query_p50_ms_one_thread"], 3),
        "build_vs_llamaindex_synthetic": round(ours_synthetic_s / llama_synthetic_s, 3),
        "ours": ours,
        "llamaindex": {**llama, "synthetic_build_s": round(llama_synthetic_s, 2)},
        "ours_synthetic_build_s": round(ours_synthetic_s, 2),
    }


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        print(json.dumps(run(Path(tmp)), indent=2))
