"""Milvus connections and collections: connect, read with one retry after a server restart, turn failures
into MilvusUnavailable, create a generation's collections, find the live one by its alias, drop old ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from qa.config import Settings
from qa.stores.errors import IndexCorrupt, MilvusUnavailable
from qa.stores.manifest import FORMAT_VERSION
from qa.walk import display_dir

_T = TypeVar("_T")

TEXT_MAX = 65535  # Milvus's VARCHAR limit
# HNSW: what real Milvus's AUTOINDEX picks for float vectors; ef is the recall/latency knob (make bench).
VECTOR_INDEX = {"index_type": "HNSW", "metric_type": "IP", "params": {"M": 16, "efConstruction": 128}}


def shown_target(settings: Settings) -> str:
    """The configured Milvus as messages show it: a server's address, or a Milvus Lite folder's
    relative name (never an absolute path)."""
    uri = settings.milvus_target
    if uri.startswith(("http://", "https://")):
        return uri
    return display_dir(Path(uri).parent) + Path(uri).name


def read(settings: Settings, client: Any, name: str, call: Callable[[], _T]) -> _T:
    """Run one read of generation `name`. A server restarted since we opened it holds the collections
    released: load them and read again. A server that does not answer becomes one MilvusUnavailable."""
    from pymilvus.exceptions import MilvusException

    for attempt in (1, 2):
        try:
            return call()
        except MilvusException as exc:
            released = "released" in str(exc.message) or "not loaded" in str(exc.message)
            if released and attempt == 1:
                with unavailable(settings):
                    for suffix in ("", "_sentences", "_meta"):
                        client.load_collection(name + suffix)
                continue
            raise _down(settings, exc) from None
        except Exception as exc:
            if type(exc).__module__.startswith("grpc"):
                raise _down(settings, exc) from None
            raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def unavailable(settings: Settings) -> Iterator[None]:
    """Turns pymilvus and gRPC failures inside the block into MilvusUnavailable."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as exc:
        raise _down(settings, exc) from None
    except Exception as exc:
        if type(exc).__module__.startswith("grpc"):
            raise _down(settings, exc) from None
        raise


def _down(settings: Settings, exc: BaseException) -> MilvusUnavailable:
    reason = str(getattr(exc, "message", "") or type(exc).__name__).splitlines()[0][:160]
    return MilvusUnavailable(
        f"Milvus at {shown_target(settings)} is not answering ({reason}); answers resume once it is back. "
        "Check that it is running (QA_MILVUS_URI)."
    )


def connect(settings: Settings) -> Any:
    """A MilvusClient for settings.milvus_target (Milvus Lite starts in this process for a .db path)."""
    # pymilvus logs every failed call with a traceback; our own message says it in one line.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    uri = settings.milvus_target
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise MilvusUnavailable(
            "QA_STORE=milvus needs pymilvus and milvus-lite: pip install 'qa[milvus]', or set QA_STORE=faiss."
        ) from None
    if not uri.startswith(("http://", "https://")):
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, token=settings.milvus_token, timeout=10)
    except Exception as exc:  # pymilvus raises its own types, and grpc's, for a refused or slow server
        reason = str(getattr(exc, "message", "") or type(exc).__name__).splitlines()[0][:160]
        raise MilvusUnavailable(
            f"Cannot reach Milvus at {shown_target(settings)} ({reason}): check QA_MILVUS_URI (and "
            "QA_MILVUS_TOKEN), or set QA_STORE=faiss. A Milvus Lite .db folder opens in one process at a time."
        ) from None


def live_collection(client: Any, alias: str) -> str | None:
    if alias not in client.list_aliases().get("aliases", []):
        return None
    return str(client.describe_alias(alias)["collection_name"])


def live_generation(settings: Settings) -> str | None:
    client = connect(settings)
    with unavailable(settings):
        name = live_collection(client, settings.milvus_collection)
    if name is None:
        return None
    return f"{name}/{read(settings, client, name, lambda: manifest_row(client, name))['version']}"


def prune(settings: Settings) -> None:
    """Drop generations other than the live one and the one before it (a killed rebuild's included)."""
    client = connect(settings)
    alias = settings.milvus_collection
    live = live_collection(client, alias)
    if live is None:
        return
    bases = sorted(n for n in client.list_collections() if n.startswith(f"{alias}_g") and n.count("_g") == 1)
    bases = [n for n in bases if not n.endswith(("_sentences", "_meta"))]
    keep = {live, *[n for n in bases if n < live][-1:]}
    for base in bases:
        if base not in keep:
            for name in (base, f"{base}_sentences", f"{base}_meta"):
                client.drop_collection(name)


def create_collections(client: Any, name: str, dim: int) -> None:
    """The three collections of generation `name`: chunks (vector, record, BM25 text), sentences, meta."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("record", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("bm25_text", DataType.VARCHAR, max_length=TEXT_MAX, enable_analyzer=True)
    schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_MAX, enable_analyzer=True, enable_match=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["bm25_text"],
            output_field_names=["sparse"],
        )
    )
    index = client.prepare_index_params()
    index.add_index(field_name="vector", **VECTOR_INDEX)
    index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    for suffix, width, key in (
        ("_sentences", dim, DataType.INT64),
        ("_meta", 2, DataType.VARCHAR),
    ):
        schema = MilvusClient.create_schema(auto_id=False)
        if key is DataType.VARCHAR:
            schema.add_field("id", key, is_primary=True, max_length=512)
        else:
            schema.add_field("id", key, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=width)
        schema.add_field("value", DataType.VARCHAR, max_length=TEXT_MAX)
        index = client.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        client.create_collection(name + suffix, schema=schema, index_params=index, consistency_level="Strong")


def manifest_row(client: Any, name: str) -> dict[str, Any]:
    rows = client.query(name + "_meta", filter='id == "manifest"', output_fields=["value"])
    if not rows:
        raise IndexCorrupt(f"The Milvus collection {name} has no manifest: run `qa index --rebuild`.")
    head: dict[str, Any] = json.loads(rows[0]["value"])
    if head.get("format_version") != FORMAT_VERSION:
        head["format_version"] = head.get("format_version", 0)  # check_compatible names the fix
    return head
