"""A fake of an OpenAI-compatible embeddings API (`POST /v1/embeddings`), served over real HTTP.

Requests and answers follow tests/contracts/openai/embeddings_openapi.json (CreateEmbeddingRequest,
CreateEmbeddingResponse, ErrorResponse); `tests/fakes/test_fakes.py` checks both against it. The
vectors are deterministic: a text's words hashed into `dimensions` buckets, so texts sharing words are
near and the same text always gives the same vector. Faults: `fail_next(status, retry_after=...)`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import deque

from softphone.simulator.server import FakeServer, Request, Response, json_response

KEY = "sk-test-embeddings-key"


class FakeEmbeddings(FakeServer):
    def __init__(self, *, api_key: str = KEY, dimensions: int = 1536, models=("text-embedding-3-small",)):
        super().__init__()
        self.api_key, self.dimensions, self.models = api_key, dimensions, set(models)
        self._lock = threading.Lock()
        self._faults: deque[Response] = deque()
        self.requests: list[dict] = []  # the JSON bodies received (key never kept)

    def fail_next(self, status: int, *, count: int = 1, retry_after: int | None = None,
                  message: str = "Rate limit reached for requests") -> None:
        kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error" if status < 500 else "server_error"
        answer = json_response(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})
        if retry_after is not None:
            answer.headers["Retry-After"] = str(retry_after)
        with self._lock:
            self._faults.extend([answer] * count)

    def vector(self, text: str) -> list[float]:
        values = [0.0] * self.dimensions
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.sha256(word.encode()).digest()
            values[int.from_bytes(digest[:4], "big") % self.dimensions] += 1.0
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [v / norm for v in values]

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path.rstrip("/") != "/v1/embeddings":
            return _error(404, "Unknown request URL", "invalid_request_error")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key")
        try:
            body = json.loads(request.body)
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        with self._lock:
            self.requests.append(body)
            if self._faults:
                return self._faults.popleft()
        if body.get("model") not in self.models:
            return _error(404, f"The model `{body.get('model')}` does not exist.", "invalid_request_error",
                          code="model_not_found")
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or len(texts) > 2048 or any(
                not isinstance(t, str) or not t for t in texts):
            return _error(400, "'input' must be a non-empty string or array of 1 to 2048 non-empty strings.",
                          "invalid_request_error", param="input")
        data = [{"object": "embedding", "index": index, "embedding": self.vector(text)}
                for index, text in enumerate(texts)]
        tokens = sum(len(text.split()) for text in texts)
        return json_response(200, {"object": "list", "data": data, "model": body["model"],
                                   "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _error(status: int, message: str, kind: str, *, param: str | None = None, code: str | None = None) -> Response:
    return json_response(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})
