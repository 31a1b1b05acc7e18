"""Embedders: the offline one's properties, and the openai and ollama clients against local servers
speaking their wire formats (success, batching, order, and how each failure is classified)."""

import json
import math
import socket
import subprocess
import sys

import pytest

from app.core.config import PROJECT_ROOT, Settings
from app.knowledge.embedders import (
    EmbedderConfig, OfflineEmbedder, OllamaEmbedder, OpenAIEmbedder, build_embedder, embedder_config,
)
from app.models import Tenant
from app.runs.errors import PermanentError, TransientError
from tests.builders import make_tenant
from tests.knowledge.fake_providers import FakeProvider, word_vector


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_offline_vectors_are_unit_length_and_the_same_in_every_process():
    text = "Enterprise plan: 20% discount above 50 seats, approved by the sales director."
    space, (vector,) = OfflineEmbedder().embed([text])
    assert (space.model, space.dimension) == ("offline:lexical-hash-v1", 384)
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-9)
    # Python's own hash() is salted per process; the embedder must not depend on it.
    script = ("import json, sys; from app.knowledge.embedders import OfflineEmbedder; "
              "print(json.dumps(OfflineEmbedder().vector(sys.argv[1])))")
    other = subprocess.run([sys.executable, "-c", script, text], capture_output=True, text=True, check=True,
                           cwd=PROJECT_ROOT, env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert [round(v, 12) for v in json.loads(other.stdout)] == [round(v, 12) for v in vector]


def test_offline_similarity_follows_shared_words_and_survives_typos():
    embed = OfflineEmbedder().vector
    passage = embed("Discounts above 15 percent need approval from the sales director.")
    assert cosine(embed("discount approval"), passage) > 0.3
    assert cosine(embed("discuont aproval"), passage) > 0.15  # character n-grams
    assert cosine(embed("weekly sleep and stress check-in"), passage) < 0.1
    assert embed("") == [0.0] * 384  # nothing to embed is no direction at all, not an error


def test_offline_has_one_model_and_size():
    with pytest.raises(PermanentError):
        OfflineEmbedder("something-else")
    with pytest.raises(PermanentError):
        OfflineEmbedder(dimensions=768)


@pytest.fixture
def provider():
    with FakeProvider(dimension=768) as server:
        yield server


def openai_embedder(provider: FakeProvider, **options) -> OpenAIEmbedder:
    return OpenAIEmbedder("text-embedding-3-small", api_key="sk-test", base_url=f"{provider.url}/v1", timeout=5,
                          max_retries=0, **options)


def test_openai_embeds_a_batch_in_order_and_asks_for_the_configured_size(provider):
    texts = ["price book", "ideal customer profile", "coaching guidelines"]
    space, vectors = openai_embedder(provider, dimensions=384).embed(texts)
    assert (space.model, space.dimension) == ("openai:text-embedding-3-small@384", 384)
    # The server answers in reverse order; the client must put each vector back with its text.
    assert [[round(v, 6) for v in vector] for vector in vectors] == [
        [round(v, 6) for v in word_vector(text, 384)] for text in texts]
    (request,) = provider.requests
    assert request["path"] == "/v1/embeddings"
    assert request["body"] == {"model": "text-embedding-3-small", "input": texts, "encoding_format": "float",
                               "dimensions": 384}


@pytest.mark.parametrize(("status", "headers", "error", "retry_after"), [
    (429, {"retry-after": "7"}, TransientError, 7.0),
    (500, {}, TransientError, None),
    (503, {}, TransientError, None),
    (401, {}, PermanentError, None),
    (400, {}, PermanentError, None),
    (404, {}, PermanentError, None),
])
def test_openai_failures_are_classified(provider, status, headers, error, retry_after):
    provider.fail_next(status, {"error": {"message": "scripted", "type": "x", "code": None}}, headers)
    with pytest.raises(error) as raised:
        openai_embedder(provider).embed(["text"])
    assert raised.type is error and f"HTTP {status}" in raised.value.message
    assert raised.value.retry_after == retry_after


def test_openai_without_a_key_or_server_is_refused_or_retried():
    with pytest.raises(PermanentError, match="OPENAI_API_KEY"):
        OpenAIEmbedder("text-embedding-3-small", api_key=None, base_url=None, timeout=1, max_retries=0)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    embedder = OpenAIEmbedder("text-embedding-3-small", api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1",
                              timeout=2, max_retries=0)
    with pytest.raises(TransientError):
        embedder.embed(["text"])


def test_a_vector_size_without_an_index_is_a_permanent_error(provider):
    with pytest.raises(PermanentError, match="100-dimensional") as raised:
        openai_embedder(provider, dimensions=100).embed(["text"])
    assert raised.value.code == "embedding_dimension_unsupported"


def test_ollama_embeds_a_batch_and_classifies_failures(provider):
    embedder = OllamaEmbedder("nomic-embed-text", host=provider.url, timeout=5)
    space, vectors = embedder.embed(["one", "two"])
    assert (space.model, space.dimension, len(vectors)) == ("ollama:nomic-embed-text", 768, 2)
    assert provider.requests[0]["path"] == "/api/embed"
    assert provider.requests[0]["body"]["input"] == ["one", "two"]

    provider.fail_next(404, {"error": "model 'nomic-embed-text' not found"})
    with pytest.raises(PermanentError, match="ollama pull nomic-embed-text"):
        embedder.embed(["x"])
    provider.fail_next(503, {"error": "overloaded"})
    with pytest.raises(TransientError):
        embedder.embed(["x"])
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(TransientError):
        OllamaEmbedder("nomic-embed-text", host=f"http://127.0.0.1:{port}", timeout=2).embed(["x"])


def test_tenant_settings_choose_the_embedder(db):
    tenant = make_tenant(db)
    settings = Settings(knowledge_embedder="offline", openai_api_key="sk-test")
    assert embedder_config(db, tenant.id, settings) == EmbedderConfig(embedder="offline")

    row = db.get(Tenant, tenant.id)
    row.settings = {"knowledge": {"embedder": "openai", "embedding_dimensions": 1024}}
    db.flush()
    config = embedder_config(db, tenant.id, settings)
    assert config == EmbedderConfig(embedder="openai", embedding_dimensions=1024)
    assert build_embedder(config, settings).model_id == "openai:text-embedding-3-small@1024"

    row.settings = {"knowledge": {"embedder": "pinecone"}}
    db.flush()
    with pytest.raises(PermanentError, match="embedder settings are invalid"):
        embedder_config(db, tenant.id, settings)
