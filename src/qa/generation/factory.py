"""Which generator a backend uses, built from the settings (the one place that imports every backend)."""

from __future__ import annotations

import os

from qa.config import Backend, Settings
from qa.generation.base import GenerationError, Generator


def llm_threads(settings: Settings) -> int:
    """Threads for llama.cpp: the setting, or every core of this machine (0, the default)."""
    return settings.llm_threads if settings.llm_threads > 0 else max(1, os.cpu_count() or 1)


def make_generator(settings: Settings, backend: Backend) -> Generator:
    """The generator for a backend; GenerationError names the setting to set when one is missing.

    `auto` reads with the local llama.cpp model; the generated `llamacpp` mode uses the same model. With
    `settings.llm_recording` (`qa eval --record/--replay`) what it writes is kept in, or served from, that
    file (qa.generation.recording).
    """
    generator = _make_generator(settings, backend)
    if settings.llm_recording is None:
        return generator
    from qa.generation.recording import recorded

    return recorded(generator, settings.llm_recording, replay=settings.llm_replay)


def _make_generator(settings: Settings, backend: Backend) -> Generator:
    if backend is Backend.OPENAI:
        from qa.generation.openai_compat import OpenAIGenerator

        for value, env in (
            (settings.openai_base_url, "QA_OPENAI_BASE_URL"),
            (settings.openai_model, "QA_OPENAI_MODEL"),
        ):
            if not value.strip():
                raise GenerationError(f"{env} is not set")
        return OpenAIGenerator(
            settings.openai_base_url,
            settings.openai_model,
            settings.openai_api_key,
            settings.llm_timeout_s,
            settings.llm_max_new_tokens,
        )
    if backend is Backend.TRANSFORMERS:
        from qa.generation.transformers_backend import TransformersGenerator

        if not settings.llm_path.strip():
            raise GenerationError("no model set: set QA_LLM_PATH to a model folder or .gguf file")
        return TransformersGenerator(settings.llm_path, settings.llm_max_new_tokens, settings.llm_timeout_s)
    if backend in (Backend.LLAMACPP, Backend.AUTO):
        from qa import llm_models
        from qa.generation.llamacpp import LlamaCppGenerator

        try:
            path, n_ctx = llm_models.model_path(settings), llm_models.context_size(settings)
        except llm_models.ModelError as exc:
            raise GenerationError(str(exc)) from None
        return LlamaCppGenerator(
            path,
            n_ctx,
            llm_threads(settings),
            settings.llm_max_new_tokens,
            settings.llm_timeout_s,
            wait_s=settings.llm_wait_s,
            prompt_lookup=settings.llm_prompt_lookup,
        )
    raise ValueError(f"The {backend.value} backend does not use a generator.")
