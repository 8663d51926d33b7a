"""Embedders: text in, one vector per text out, behind one interface (seed 002's `embedding`).

Chosen by settings (`embedder()`):

- `EMBEDDINGS_URL` set: an OpenAI-compatible embeddings API (`POST {EMBEDDINGS_URL}/embeddings`, the
  request and answer of ../shared/contracts/openai/embeddings_openapi.json) with `EMBEDDINGS_API_KEY`
  and `EMBEDDINGS_MODEL` (default `text-embedding-3-small`, 1536 dimensions). The key goes to that
  configured address only.
- Otherwise the offline default: WordLlama's `l2_supercat_256` (256 dimensions), whose weights and
  tokenizer ship inside the `wordllama` wheel, loaded without any network (docs/benchmarks.md, issue 19,
  says why this model: it is the one that installs from PyPI and runs offline here, and how it ranks).

Vectors are unit length, stored at their model's own dimensions (seed 002's `vector(1536)` is the
largest a model may have: text-embedding-3-small's). Rows embedded by different models are never
compared: each row keeps its model's name (`Embedder.name`) and dimensions.
"""

from __future__ import annotations

import gc
import math
import time
from functools import cache
from pathlib import Path

import numpy as np
import requests
import wordllama
from django.conf import settings

MOST_DIMENSIONS = 1536  # seed 002: embedding vector(1536); a vector is stored at its model's own
LONGEST_TEXT = 8000  # characters embedded of a message (the rest says little more, and costs tokens)


class EmbeddingError(Exception):
    """The embedder could not answer. `permanent`: trying again will not help (a refused key, an
    unknown model); otherwise a later try may (rate limit, timeout, 5xx). `retry_after`: seconds the
    vendor asked us to wait, when it said."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None):
        super().__init__(message)
        self.message, self.permanent, self.retry_after = message, permanent, retry_after


class Embedder:
    """`name` is stored with every vector it makes; `dimensions` is its vectors' length (at most 1536)."""

    name: str
    dimensions: int
    batch_size: int = 256

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class LocalEmbedder(Embedder):
    """WordLlama l2_supercat_256, in this process, offline."""

    name = "wordllama/l2_supercat_256"
    dimensions = 256
    batch_size = 512

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return _unit(np.asarray(_wordllama().embed([t[:LONGEST_TEXT] for t in texts]), dtype=np.float32)).tolist()


@cache
def _wordllama():
    # The weights and tokenizer are inside the package: never ask Hugging Face for them.
    model = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    # The model brings a few hundred thousand long-lived Python objects (its vocabulary). Left to the
    # garbage collector, each full collection walks them all: a 100 ms pause in one search in fifty
    # at a million messages (docs/benchmarks.md, issue 19). Frozen, the collector skips them.
    gc.collect()
    gc.freeze()
    return model


class OpenAIEmbedder(Embedder):
    """An OpenAI-compatible `/embeddings` endpoint."""

    batch_size = 128
    timeout = 30.0

    def __init__(self, *, url: str, api_key: str, model: str, dimensions: int | None = None):
        self.url = url.rstrip("/") + "/embeddings"
        self._api_key = api_key
        self.model = model
        self.dimensions = dimensions or KNOWN_DIMENSIONS.get(model, MOST_DIMENSIONS)
        if not 0 < self.dimensions <= MOST_DIMENSIONS:
            raise ValueError(f"EMBEDDINGS_DIMENSIONS must be between 1 and {MOST_DIMENSIONS}")
        self.name = f"openai/{model}" + (f"@{dimensions}" if dimensions else "")

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        body = {"model": self.model, "input": [t[:LONGEST_TEXT] or " " for t in texts], "encoding_format": "float"}
        if self.dimensions != KNOWN_DIMENSIONS.get(self.model, self.dimensions):
            body["dimensions"] = self.dimensions
        try:
            answer = requests.post(self.url, json=body, timeout=self.timeout, allow_redirects=False,
                                   headers={"Authorization": f"Bearer {self._api_key}"})
        except requests.RequestException as exc:
            raise EmbeddingError(f"The embeddings API could not be reached ({type(exc).__name__}).",
                                 permanent=False) from None
        if answer.status_code == 429 or answer.status_code >= 500:
            raise EmbeddingError(f"The embeddings API is busy or failing ({answer.status_code}: {_said(answer)}).",
                                 permanent=False, retry_after=_retry_after(answer))
        if answer.status_code != 200:
            raise EmbeddingError(f"The embeddings API refused the request ({answer.status_code}: {_said(answer)}).",
                                 permanent=True)
        return self._vectors(answer, len(texts))

    def _vectors(self, answer: requests.Response, count: int) -> list[list[float]]:
        try:
            data = answer.json()["data"]
            ordered = sorted(data, key=lambda item: item["index"])
            vectors = [item["embedding"] for item in ordered]
        except (ValueError, KeyError, TypeError):
            raise EmbeddingError("The embeddings API answered something that is not a list of embeddings.",
                                 permanent=False) from None
        if [item["index"] for item in ordered] != list(range(count)):
            raise EmbeddingError(f"The embeddings API answered {len(vectors)} embeddings for {count} texts.",
                                 permanent=False)
        for vector in vectors:
            if (not isinstance(vector, list) or len(vector) != self.dimensions
                    or not all(isinstance(v, int | float) and math.isfinite(v) for v in vector)):
                raise EmbeddingError(f"The embeddings API answered vectors that are not {self.dimensions} numbers "
                                     f"(model {self.model}).", permanent=True)
        return _unit(np.asarray(vectors, dtype=np.float32)).tolist()


KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


def _said(answer: requests.Response) -> str:
    try:
        return str(answer.json()["error"]["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return answer.reason or "no reason given"


def _retry_after(answer: requests.Response) -> float | None:
    try:
        return max(1.0, float(answer.headers.get("Retry-After", "")))
    except ValueError:
        return None


@cache
def _configured(url: str, api_key: str, model: str, dimensions: int | None) -> Embedder:
    if not url:
        return LocalEmbedder()
    return OpenAIEmbedder(url=url, api_key=api_key, model=model, dimensions=dimensions)


def embedder() -> Embedder:
    """The embedder the settings name (the same object for the same settings)."""
    return _configured(settings.EMBEDDINGS_URL, settings.EMBEDDINGS_API_KEY, settings.EMBEDDINGS_MODEL,
                       settings.EMBEDDINGS_DIMENSIONS)


def with_retries(embed, texts: list[str], *, attempts: int = 4, pause=None) -> list[list[float]]:
    """`embed(texts)`, trying again after a transient error (backing off 1, 2, 4 s, or as long as the
    vendor asked); a permanent error, or the last transient one, is raised."""
    for attempt in range(attempts):
        try:
            return embed(texts)
        except EmbeddingError as exc:
            if exc.permanent or attempt == attempts - 1:
                raise
            (pause or time.sleep)(min(60.0, exc.retry_after or float(2 ** attempt)))
    raise AssertionError("unreachable")
