"""Embedders turn texts into vectors, a batch at a time: `offline` (the default), `openai` and `ollama`.

A vector is only comparable with vectors of the same embedding space: the same embedder, model and
size. `space()` names it; chunks record it, and searches compare a query only with chunks of the
tenant's current space (docs/knowledge.md).

Provider failures are classified for the run engine: timeouts, lost connections, 429 and 5xx are
`TransientError`s (retried with backoff); everything else (a bad key, an unknown model, a vector of a
size without an index) is a `PermanentError`.
"""

import hashlib
import math
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import httpx
import ollama
import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from app.core.config import Settings, get_settings
from app.models import Tenant
from app.models.knowledge import INDEXED_DIMENSIONS
from app.runs.errors import PermanentError, TransientError

EmbedderName = Literal["offline", "openai", "ollama"]


@dataclass(frozen=True)
class EmbeddingSpace:
    """`model` is "<embedder>:<model>" (e.g. "openai:text-embedding-3-small"); with `dimension` it says
    which vectors may be compared."""

    model: str
    dimension: int


class Embedder(ABC):
    name: str

    def __init__(self, model: str, dimensions: int | None = None):
        self.model = model
        self.dimensions = dimensions

    @property
    def model_id(self) -> str:
        # Vectors a model was asked to shorten (`dimensions`) are a different space from its full ones.
        suffix = "" if self.dimensions is None else f"@{self.dimensions}"
        return f"{self.name}:{self.model}{suffix}"

    def embed(self, texts: Sequence[str]) -> tuple[EmbeddingSpace, list[list[float]]]:
        """One vector per text, in order, and the space they live in."""
        if not texts:
            raise ValueError("embed() needs at least one text")
        vectors = self._embed(list(texts))
        if len(vectors) != len(texts):
            raise PermanentError(f"{self.model_id} returned {len(vectors)} vectors for {len(texts)} texts",
                                 code="embedding_invalid")
        dimensions = {len(vector) for vector in vectors}
        if len(dimensions) != 1:
            raise PermanentError(f"{self.model_id} returned vectors of sizes {sorted(dimensions)} in one batch",
                                 code="embedding_invalid")
        dimension = dimensions.pop()
        if dimension not in INDEXED_DIMENSIONS:
            raise PermanentError(
                f"{self.model_id} produces {dimension}-dimensional vectors; the sizes with an index are "
                f"{', '.join(map(str, INDEXED_DIMENSIONS))} (openai text-embedding-3 models can be asked for one "
                "of them with the embedding_dimensions setting).",
                code="embedding_dimension_unsupported",
            )
        return EmbeddingSpace(self.model_id, dimension), vectors

    @abstractmethod
    def _embed(self, texts: list[str]) -> list[list[float]]: ...


# --- offline -----------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves
""".split())


class OfflineEmbedder(Embedder):
    """Deterministic and lexical, with no model and no network: the default, for demos, tests and
    air-gapped installs.

    Feature hashing (Weinberger et al., 2009) of word unigrams, word bigrams and character 3- to 5-grams
    of each word into 384 signed buckets, with sublinear term frequency, L2-normalised. Words match
    words; the character n-grams also match inflections and typos ("discuont" shares most of its
    n-grams with "discount"), which the full-text side of hybrid search does not. It knows nothing of
    synonyms; a real model does. Changing the features changes the vectors: bump `MODEL`, and the
    documents are re-embedded instead of mixing the two.
    """

    name = "offline"
    MODEL = "lexical-hash-v1"
    DIMENSION = 384
    _WEIGHTS = {"w": 1.0, "b": 0.5, "c": 0.25}

    def __init__(self, model: str = MODEL, dimensions: int | None = None):
        if model != self.MODEL or dimensions not in (None, self.DIMENSION):
            raise PermanentError(
                f"the offline embedder has one model, '{self.MODEL}', of {self.DIMENSION} dimensions",
                code="embedder_misconfigured")
        super().__init__(model)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return [self.vector(text) for text in texts]

    def vector(self, text: str) -> list[float]:
        vector = [0.0] * self.DIMENSION
        for feature, count in self._features(text).items():
            bucket, sign = _bucket(feature, self.DIMENSION)
            vector[bucket] += sign * self._WEIGHTS[feature[0]] * (1.0 + math.log(count))
        norm = math.sqrt(sum(value * value for value in vector))
        return [value / norm for value in vector] if norm else vector

    @staticmethod
    def _features(text: str) -> Counter[str]:
        words = [word for word in _TOKEN.findall(text.lower()) if word not in _STOPWORDS]
        features: Counter[str] = Counter()
        for word in words:
            features["w" + word] += 1
            padded = f"<{word}>"
            for size in (3, 4, 5):
                for start in range(len(padded) - size + 1):
                    features["c" + padded[start:start + size]] += 1
        for first, second in zip(words, words[1:]):
            features[f"b{first} {second}"] += 1
        return features


@lru_cache(maxsize=1 << 18)
def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    """A stable hash (Python's own is salted per process) → a bucket and a sign; the sign makes
    collisions cancel out on average instead of piling up."""
    value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return value % dimension, 1.0 if value >> 63 else -1.0


# --- openai -------------------------------------------------------------------------------------


class OpenAIEmbedder(Embedder):
    name = "openai"
    DEFAULT_MODEL = "text-embedding-3-small"

    def __init__(self, model: str, *, api_key: str | None, base_url: str | None, timeout: float,
                 max_retries: int, dimensions: int | None = None):
        super().__init__(model, dimensions)
        if not api_key:
            raise PermanentError("OPENAI_API_KEY is not set; the openai embedder needs it",
                                 code="embedder_misconfigured")
        self.client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        options: dict[str, Any] = {} if self.dimensions is None else {"dimensions": self.dimensions}
        try:
            response = self.client.embeddings.create(model=self.model, input=texts, encoding_format="float", **options)
        except openai.APIConnectionError as exc:  # includes timeouts
            raise TransientError(f"openai embeddings: {exc}", code="provider_unreachable") from exc
        except openai.APIStatusError as exc:
            raise _classify_status(f"openai embeddings ({self.model})", exc.status_code, exc.message,
                                   exc.response.headers.get("retry-after")) from exc
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]


# --- ollama -------------------------------------------------------------------------------------


class OllamaEmbedder(Embedder):
    name = "ollama"
    DEFAULT_MODEL = "nomic-embed-text"

    def __init__(self, model: str, *, host: str, timeout: float, dimensions: int | None = None):
        super().__init__(model, dimensions)
        self.client = ollama.Client(host=host, timeout=timeout)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        try:
            response = self.client.embed(model=self.model, input=texts, dimensions=self.dimensions)
        except ollama.ResponseError as exc:
            hint = f" (run `ollama pull {self.model}`)" if exc.status_code == 404 else ""
            raise _classify_status(f"ollama embed ({self.model}){hint}", exc.status_code, exc.error, None) from exc
        except (ConnectionError, httpx.TransportError) as exc:  # refused, reset, timed out
            raise TransientError(f"ollama embed: {exc}", code="provider_unreachable") from exc
        return [list(vector) for vector in response.embeddings]


def _classify_status(what: str, status: int, message: str, retry_after: str | None) -> TransientError | PermanentError:
    if status == 429 or status >= 500:
        return TransientError(f"{what}: HTTP {status}: {message}", code="provider_unavailable",
                              retry_after=_seconds(retry_after))
    return PermanentError(f"{what}: HTTP {status}: {message}", code="provider_rejected")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: the engine's own backoff is good enough
        return None


# --- choosing the tenant's embedder -------------------------------------------------------------


class EmbedderConfig(BaseModel):
    """The deployment's defaults, overridden per tenant by settings["knowledge"] (PATCH /api/v1/tenant)."""

    model_config = ConfigDict(extra="forbid")

    embedder: EmbedderName = "offline"
    embedding_model: str | None = Field(None, min_length=1, max_length=150)
    embedding_dimensions: int | None = Field(None, ge=1, le=4096)


def embedder_config(session: Session, tenant_id: Any, settings: Settings | None = None) -> EmbedderConfig:
    settings = settings or get_settings()
    defaults = {"embedder": settings.knowledge_embedder, "embedding_model": settings.knowledge_embedding_model,
                "embedding_dimensions": settings.knowledge_embedding_dimensions}
    tenant_settings = session.get_one(Tenant, tenant_id).settings or {}
    override = tenant_settings.get("knowledge") or {}
    if not isinstance(override, dict):
        raise PermanentError("the tenant setting 'knowledge' must be an object", code="embedder_misconfigured")
    if "embedder" in override and override["embedder"] != defaults["embedder"]:
        # Another embedder: the deployment's model and size were meant for the default one.
        defaults.update(embedding_model=None, embedding_dimensions=None)
    try:
        return EmbedderConfig.model_validate({**defaults, **override})
    except ValidationError as exc:
        raise PermanentError(f"the knowledge embedder settings are invalid: {exc}",
                             code="embedder_misconfigured") from exc


def build_embedder(config: EmbedderConfig, settings: Settings | None = None) -> Embedder:
    settings = settings or get_settings()
    if config.embedder == "openai":
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIEmbedder(config.embedding_model or OpenAIEmbedder.DEFAULT_MODEL, api_key=api_key,
                              base_url=settings.openai_base_url, timeout=settings.knowledge_embed_timeout_seconds,
                              max_retries=settings.llm_max_retries, dimensions=config.embedding_dimensions)
    if config.embedder == "ollama":
        return OllamaEmbedder(config.embedding_model or OllamaEmbedder.DEFAULT_MODEL, host=settings.ollama_host,
                              timeout=settings.knowledge_embed_timeout_seconds, dimensions=config.embedding_dimensions)
    return OfflineEmbedder(config.embedding_model or OfflineEmbedder.MODEL, config.embedding_dimensions)


def tenant_embedder(session: Session, tenant_id: Any) -> Embedder:
    return build_embedder(embedder_config(session, tenant_id))
