"""Knowledge retrieval at scale: HNSW latency and recall, and hybrid search against vector-only.

In a scratch database (created, migrated and dropped here; never the dev database): one tenant with
`--chunks` chunks of `--dimension` dimensions among `--other-tenants` tenants holding `--other-chunks`
each, bulk-loaded with COPY, then the HNSW index built with `--m` / `--ef-construction`. The vectors
are clustered (a mixture of Gaussians on the unit sphere, as real embeddings are) and each chunk's text
shares topic words with its cluster, so the full-text side of hybrid search has real work to do.

Measured as the runtime role under RLS, through the application's own code, one transaction a query:
  1. HNSW top-10 (app.knowledge.repository.hnsw_candidates) per hnsw.ef_search in `--ef-search`:
     p50/p95 latency and recall@10 against exact search (the same query without the index);
  2. end-to-end search (app.knowledge.retrieval.search_by_vector, top 10, hits hydrated) in vector
     mode and in hybrid mode, p50/p95, and the ratio hybrid/vector.
Targets (issue 5): p95 < 15 ms and recall@10 >= 0.95 for HNSW; hybrid p95 <= 2x vector-only.

Usage:  python -m bench.retrieval [--chunks 100000] [--queries 300] [--ef-search 20,40,64,100]
"""

import argparse
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
from pgvector import Vector
from pgvector.psycopg import register_vector
from psycopg.types.json import Jsonb
from sqlalchemy import make_url

from bench._harness import percentile, scratch_database

MODEL = "bench:synthetic"
CHUNKS_PER_DOCUMENT = 50
WORDS_PER_CHUNK = 80
TOPIC_WORDS = 12
VOCABULARY = 20_000


@dataclass(frozen=True)
class Query:
    text: str
    vector: list[float]


class Corpus:
    """Deterministic synthetic chunks: clusters of vectors, and text with each cluster's topic words."""

    def __init__(self, dimension: int, clusters: int, seed: int = 7):
        self.random = random.Random(seed)
        self.dimension = dimension
        self.centroids = [self._unit([self.random.gauss(0, 1) for _ in range(dimension)]) for _ in range(clusters)]
        syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
        words: set[str] = set()
        while len(words) < VOCABULARY:
            words.add("".join(self.random.choices(syllables, k=self.random.randint(2, 4))))
        self.vocabulary = sorted(words)
        self.random.shuffle(self.vocabulary)
        # General words follow Zipf's law; topic words come from the rare end, a dozen per cluster.
        self.general = self.vocabulary[:5000]
        self.general_weights = list(_cumulative([1 / rank for rank in range(1, len(self.general) + 1)]))
        tail = self.vocabulary[5000:]
        self.topics = [self.random.sample(tail, TOPIC_WORDS) for _ in range(clusters)]

    @staticmethod
    def _unit(vector: list[float]) -> list[float]:
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector]

    def _near(self, cluster: int, spread: float) -> list[float]:
        return self._unit([c + self.random.gauss(0, spread) for c in self.centroids[cluster]])

    def chunk(self) -> tuple[str, list[float]]:
        cluster = self.random.randrange(len(self.centroids))
        topic = self.random.choices(self.topics[cluster], k=WORDS_PER_CHUNK // 4)
        general = self.random.choices(self.general, cum_weights=self.general_weights, k=WORDS_PER_CHUNK - len(topic))
        words = topic + general
        self.random.shuffle(words)
        return " ".join(words), self._near(cluster, spread=0.06)

    def query(self) -> Query:
        cluster = self.random.randrange(len(self.centroids))
        words = self.random.sample(self.topics[cluster], 2)
        words += self.random.choices(self.general[:200], k=1)  # a common word, as questions have
        return Query(" ".join(words), self._near(cluster, spread=0.06))


def _cumulative(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def _psycopg_url(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def load(owner_url: str, corpus: Corpus, tenants: dict[uuid.UUID, int], m: int, ef_construction: int) -> None:
    """Tenants, documents and chunks with COPY as the owner, then ANALYZE and the HNSW index build."""
    index = f"ix_document_chunks_embedding_{corpus.dimension}"
    with psycopg.connect(_psycopg_url(owner_url), autocommit=True) as connection:
        register_vector(connection)
        # Building the index once over loaded rows is far faster than maintaining it row by row.
        connection.execute(f"DROP INDEX {index}")
        for position, (tenant_id, chunks) in enumerate(tenants.items()):
            started = time.perf_counter()
            connection.execute(
                "INSERT INTO tenants (id, name, slug, timezone, settings) VALUES (%s, %s, %s, 'UTC', '{}')",
                (tenant_id, f"Bench {position}", f"bench-{tenant_id.hex[:12]}"))
            documents = [uuid.uuid4() for _ in range(math.ceil(chunks / CHUNKS_PER_DOCUMENT))]
            with connection.cursor().copy(
                "COPY documents (id, tenant_id, title, content_type, tags, content_hash, size_bytes, source, status, "
                "chunk_count, embedding_model, embedding_dim, created_by_type) FROM STDIN"
            ) as copy:
                for number, document_id in enumerate(documents):
                    count = min(CHUNKS_PER_DOCUMENT, chunks - number * CHUNKS_PER_DOCUMENT)
                    copy.write_row((document_id, tenant_id, f"Document {number}", "text/plain",
                                    [f"tag{number % 20}"], uuid.uuid4().hex, 0, b"", "ready", count, MODEL,
                                    corpus.dimension, "system"))
            with connection.cursor().copy(
                "COPY document_chunks (id, tenant_id, document_id, position, text, context, metadata, embedding, "
                "embedding_model, embedding_dim) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["uuid", "uuid", "uuid", "int4", "text", "text", "jsonb", "vector", "varchar", "int4"])
                for number in range(chunks):
                    text, vector = corpus.chunk()
                    copy.write_row((uuid.uuid4(), tenant_id, documents[number // CHUNKS_PER_DOCUMENT],
                                    number % CHUNKS_PER_DOCUMENT, text, f"Document {number // CHUNKS_PER_DOCUMENT}",
                                    Jsonb({}), Vector(vector), MODEL, corpus.dimension))
            print(f"  loaded {chunks:>7} chunks for tenant {position} in {time.perf_counter() - started:6.1f} s")
        connection.execute("ANALYZE documents")
        connection.execute("ANALYZE document_chunks")
        started = time.perf_counter()
        connection.execute("SET maintenance_work_mem = '1GB'")
        connection.execute("SET max_parallel_maintenance_workers = 2")
        connection.execute(
            f"CREATE INDEX {index} ON document_chunks USING hnsw ((CAST(embedding AS vector({corpus.dimension}))) "
            f"vector_cosine_ops) WITH (m = {m}, ef_construction = {ef_construction}) "
            f"WHERE embedding_dim = {corpus.dimension}")
        connection.execute("ANALYZE document_chunks")
        print(f"  HNSW index (m={m}, ef_construction={ef_construction}) built in {time.perf_counter() - started:.1f} s")


def exact_top(owner_url: str, tenant_id: uuid.UUID, dimension: int, queries: list[Query]) -> list[list[uuid.UUID]]:
    """The true top 10 of each query in the tenant (the index switched off), as the owner."""
    with psycopg.connect(_psycopg_url(owner_url)) as connection:
        register_vector(connection)
        connection.execute("SET enable_indexscan = off")
        connection.execute("SET enable_bitmapscan = off")
        return [
            [row[0] for row in connection.execute(
                f"SELECT id FROM document_chunks WHERE tenant_id = %s AND embedding_dim = %s AND embedding_model = %s "
                f"ORDER BY CAST(embedding AS vector({dimension})) <=> %s LIMIT 10",
                (tenant_id, dimension, MODEL, Vector(query.vector)))]
            for query in queries
        ]


def timed(queries: list[Query], tenant_id: uuid.UUID, fn: Callable) -> tuple[list[float], list]:
    """Each query in its own transaction bound to the tenant, as the API runs one; milliseconds."""
    from app.core.db import session_scope

    latencies, results = [], []
    for query in queries:
        started = time.perf_counter()
        with session_scope(tenant_id) as session:
            results.append(fn(session, query))
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies, results


def summary(latencies: list[float]) -> str:
    return f"p50 {percentile(latencies, 50):6.2f} ms   p95 {percentile(latencies, 95):6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--other-tenants", type=int, default=4)
    parser.add_argument("--other-chunks", type=int, default=5_000)
    parser.add_argument("--clusters", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--m", type=int, default=None, help="default: the migration's")
    parser.add_argument("--ef-construction", type=int, default=None, help="default: the migration's")
    parser.add_argument("--ef-search", default="20,40,64,100", help="comma-separated hnsw.ef_search values")
    args = parser.parse_args()

    from app.models.knowledge import HNSW_EF_CONSTRUCTION, HNSW_M

    m, ef_construction = args.m or HNSW_M, args.ef_construction or HNSW_EF_CONSTRUCTION
    started = time.perf_counter()
    corpus = Corpus(args.dimension, args.clusters)
    target = uuid.uuid4()
    tenants = {target: args.chunks, **{uuid.uuid4(): args.other_chunks for _ in range(args.other_tenants)}}
    with scratch_database() as urls:
        print(f"scratch database ready; loading {sum(tenants.values())} chunks "
              f"({args.chunks} in the measured tenant, {args.other_tenants} others with {args.other_chunks} each)")
        load(urls["MIGRATION_DATABASE_URL"], corpus, tenants, m, ef_construction)
        queries = [corpus.query() for _ in range(args.queries)]
        warmup = [corpus.query() for _ in range(50)]
        truth = exact_top(urls["MIGRATION_DATABASE_URL"], target, args.dimension, queries)
        measure(target, args, queries, warmup, truth)
    print(f"total {time.perf_counter() - started:.0f} s; the scratch database was dropped")


def measure(target: uuid.UUID, args: argparse.Namespace, queries: list[Query], warmup: list[Query],
            truth: list[list[uuid.UUID]]) -> None:
    from app.core.context import TenantContext
    from app.knowledge.embedders import EmbeddingSpace
    from app.knowledge.repository import hnsw_candidates
    from app.knowledge.retrieval import search_by_vector

    space = EmbeddingSpace(MODEL, args.dimension)
    ctx = TenantContext.system(target)

    print(f"\nHNSW top-10 under RLS ({len(queries)} queries; recall@10 against exact search):")
    for ef_search in [int(value) for value in args.ef_search.split(",")]:
        def nearest(session, query: Query, ef_search=ef_search):
            return [c.chunk_id for c in hnsw_candidates(session, space, query.vector, ef_search=ef_search, limit=10,
                                                        document_ids=None)]

        timed(warmup, target, nearest)
        latencies, found = timed(queries, target, nearest)
        recall = sum(len(set(f) & set(t)) for f, t in zip(found, truth)) / sum(len(t) for t in truth)
        print(f"  ef_search {ef_search:>4}   {summary(latencies)}   recall@10 {recall:.3f}")

    print("\nsearch_by_vector, top 10, hits hydrated (the settings' ef_search and candidate counts):")
    measured = {}
    for mode in ("vector", "hybrid"):
        def run(session, query: Query, mode=mode):
            return search_by_vector(session, ctx, query.text, space, query.vector, top_k=10, mode=mode)

        timed(warmup, target, run)
        latencies, hits = timed(queries, target, run)
        measured[mode] = latencies
        print(f"  {mode:7} {summary(latencies)}   mean hits {sum(map(len, hits)) / len(hits):.1f}")
    ratio = percentile(measured["hybrid"], 95) / percentile(measured["vector"], 95)
    print(f"  hybrid/vector p95 ratio {ratio:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
