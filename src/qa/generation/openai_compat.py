"""Any OpenAI-compatible chat-completions server (Ollama, llama.cpp server, vLLM, OpenAI), streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator

from qa.generation.base import GenerationError
from qa.generation.base import delta as _delta


class OpenAIGenerator:
    """Any OpenAI-compatible chat-completions server (Ollama, llama.cpp server, vLLM, OpenAI), streamed."""

    def __init__(self, base_url: str, model: str, api_key: str, timeout_s: float, max_tokens: int) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key, self.timeout_s, self.max_tokens = model, api_key, timeout_s, max_tokens

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        import httpx

        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "temperature": 0,  # a grounded answer wants the likeliest wording, not variety
            "max_tokens": self.max_tokens,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            with httpx.stream("POST", self.url, json=body, headers=headers, timeout=self.timeout_s) as reply:
                if reply.is_error:
                    reply.read()
                    raise GenerationError(f"HTTP {reply.status_code} from {self.url}: {reply.text[:200]}")
                for line in reply.iter_lines():
                    if not line.startswith("data:"):
                        continue  # SSE comments, keep-alives and blank separators
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        return
                    yield _delta(json.loads(data))
        except httpx.ConnectError:
            raise GenerationError(f"cannot connect to {self.url}") from None
        except httpx.TimeoutException:
            raise GenerationError(f"no reply from {self.url} within {self.timeout_s:g} s") from None
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise GenerationError(f"{type(exc).__name__}: {exc}"[:200]) from exc
