"""OpenAI-compatible HTTP backend (vLLM, SGLang or any service speaking /v1/chat/completions).

Requests run on a bounded thread pool (``max_concurrency`` in flight per worker). Each
request is retried on 429, 5xx, timeouts, connection errors and malformed responses with
exponential backoff (honouring ``Retry-After``); other 4xx fail at once. Every chunk ends as
a translation or an :class:`MTFailure` with the reason and attempt count. The API key is read
from the environment variable named in the config, sent only in the Authorization header,
and never logged or put in a failure record.
"""
from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import List, Literal, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field

from xcurate.mt.base import MTBackend, MTFailure, Result
from xcurate.mt.languages import Language

DEFAULT_PROMPT = ("Translate the following text from {src_name} to {tgt_name}. Keep tokens like [[0]] and "
                  "code, URLs and numbers unchanged. Reply with the translation only.\n\n{text}")


class HttpBackendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["openai"] = "openai"
    base_url: str = Field(..., description="e.g. http://localhost:8000/v1")
    model: str
    api_key_env: Optional[str] = Field("OPENAI_API_KEY", description="environment variable holding the key")
    prompt: str = DEFAULT_PROMPT
    system_prompt: Optional[str] = None
    max_concurrency: int = Field(8, ge=1, description="requests in flight per worker")
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0)
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    max_input_tokens: int = Field(1024, ge=8)
    max_output_tokens: int = Field(2048, ge=8)
    temperature: float = 0.0
    concurrency: int = Field(1, ge=1, description="Ray actors (each with max_concurrency requests)")


class _Retryable(Exception):
    def __init__(self, reason: str, detail: str = "", retry_after: Optional[float] = None):
        super().__init__(reason)
        self.reason, self.detail, self.retry_after = reason, detail, retry_after


class _Fatal(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


class OpenAIBackend(MTBackend):
    name = "openai"

    def __init__(self, cfg: HttpBackendConfig):
        self.cfg = cfg
        self.model = cfg.model
        self.max_input_tokens = cfg.max_input_tokens
        self._pool: Optional[ThreadPoolExecutor] = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # the key is not an attribute, but keep repr free of anything secret anyway
        return f"OpenAIBackend(base_url={self.cfg.base_url!r}, model={self.cfg.model!r})"

    def setup(self) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.cfg.max_concurrency, thread_name_prefix="mt-http")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def translate(self, chunks: Sequence[str], src: Language, tgt: Language) -> List[Result]:
        self.setup()
        futures = [self._pool.submit(self._translate_one, c, src, tgt) for c in chunks]
        return [f.result() for f in futures]

    # -- one chunk -------------------------------------------------------------------
    def _translate_one(self, text: str, src: Language, tgt: Language) -> Result:
        body = self._request_body(text, src, tgt)
        attempts = 0
        last: Optional[_Retryable] = None
        while attempts <= self.cfg.max_retries:
            attempts += 1
            try:
                return self._post(body)
            except _Fatal as e:
                return MTFailure(e.reason, attempts, e.detail)
            except _Retryable as e:
                last = e
                if attempts > self.cfg.max_retries:
                    break
                time.sleep(self._backoff(attempts, e.retry_after))
        return MTFailure(last.reason, attempts, last.detail)

    def _backoff(self, attempt: int, retry_after: Optional[float]) -> float:
        delay = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2 ** (attempt - 1))
        delay *= 0.5 + random.random() / 2  # jitter, so that throttled workers do not retry in lockstep
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cfg.backoff_max_s))
        return delay

    def _request_body(self, text: str, src: Language, tgt: Language) -> bytes:
        fields = {"src_name": src.name, "tgt_name": tgt.name, "src_code": src.code, "tgt_code": tgt.code}
        user = self.cfg.prompt.replace("{text}", "\0").format(**fields).replace("\0", text)
        messages = ([{"role": "system", "content": self.cfg.system_prompt.format(**fields)}]
                    if self.cfg.system_prompt else []) + [{"role": "user", "content": user}]
        return json.dumps({"model": self.cfg.model, "messages": messages, "temperature": self.cfg.temperature,
                           "max_tokens": self.cfg.max_output_tokens}).encode()

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.cfg.api_key_env) if self.cfg.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, body: bytes) -> str:
        url = self.cfg.base_url.rstrip("/") + "/chat/completions"
        req = urllib.request.Request(url, data=body, headers=self._headers(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            retry_after = _retry_after(e.headers.get("Retry-After") if e.headers else None)
            if e.code == 429 or e.code >= 500:
                raise _Retryable(f"http_{e.code}", f"HTTP {e.code} from {url}", retry_after) from None
            raise _Fatal(f"http_{e.code}", f"HTTP {e.code} from {url}") from None
        except (socket.timeout, TimeoutError):
            raise _Retryable("timeout", f"no answer within {self.cfg.timeout_s}s") from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, (socket.timeout, TimeoutError)):
                raise _Retryable("timeout", f"no answer within {self.cfg.timeout_s}s") from None
            raise _Retryable("connection_error", str(e.reason)[:200]) from None
        except (ConnectionError, OSError) as e:
            raise _Retryable("connection_error", type(e).__name__) from None
        return _parse_completion(raw)


def _retry_after(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _parse_completion(raw: bytes) -> str:
    try:
        payload = json.loads(raw)
        content = payload["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _Retryable("malformed_response", f"unexpected response body ({len(raw)} bytes)") from None
    if not isinstance(content, str):
        raise _Retryable("malformed_response", "message content is not a string")
    return content.strip()
