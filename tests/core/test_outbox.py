"""The outbox after commit, against the real Redis and PostgreSQL: what is published, by whom, when it
is confirmed, and what is left to the relay. The wire format is held against kombu's own."""

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import text

from app.core import outbox
from app.core.redis import get_redis

QUEUE = "tests.outbox"  # no worker listens here


@pytest.fixture
def broker(migrated) -> Iterator[redis.Redis]:
    client = get_redis()
    client.delete(QUEUE)
    yield client
    client.delete(QUEUE)


@pytest.fixture
def inline():
    """No background publisher: the committing thread publishes (as in workers and the CLI)."""
    outbox.stop_publisher()
    yield
    outbox.stop_publisher()


@pytest.fixture
def publisher():
    outbox.stop_publisher()
    outbox.start_publisher()
    yield outbox._publisher
    outbox.stop_publisher()


def _commit(factory, *kwargs: dict, delay_seconds: float = 0) -> None:
    with factory() as session, session.begin():
        for values in kwargs:
            outbox.enqueue(session, "tests.noop", QUEUE, values, delay_seconds=delay_seconds)


def _rows(owner_engine, marker: str) -> list:
    with owner_engine.connect() as connection:
        return connection.execute(text(
            "SELECT id, published_at, publish_attempts, countdown_seconds, available_at - now() AS due_in "
            "FROM outbox WHERE kwargs->>'marker' = :m ORDER BY id"), {"m": marker}).all()


def _queued(broker: redis.Redis) -> list[dict]:
    """The kwargs of the messages on the test queue, oldest first."""
    messages = [json.loads(raw) for raw in reversed(broker.lrange(QUEUE, 0, -1))]
    return [json.loads(base64.b64decode(message["body"]))[1] for message in messages]


def _wait(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- the wire ------------------------------------------------------------------------------------


def test_a_message_is_put_on_the_queue_exactly_as_kombu_puts_it(broker):
    """Everything but the per-message ids and the expiry instant is the same as celery's send_task
    writes; a Celery or kombu upgrade that changes the format fails here."""
    from workers.celery_app import celery_app

    kwargs = {"run_id": str(uuid.uuid4()), "tenant_id": str(uuid.uuid4())}
    celery_app.send_task("tests.outbox.wire", kwargs=kwargs, queue=QUEUE, expires=3600)
    theirs = json.loads(broker.rpop(QUEUE))
    outbox.send_many([("tests.outbox.wire", QUEUE, kwargs)])
    ours = json.loads(broker.rpop(QUEUE))

    for message in (theirs, ours):
        task_id = message["headers"]["id"]
        assert message["headers"]["root_id"] == message["properties"]["correlation_id"] == task_id
        uuid.UUID(message["properties"].pop("delivery_tag"))
        expires = datetime.fromisoformat(message["headers"].pop("expires"))
        assert abs((expires - datetime.now(UTC)).total_seconds() - 3600) < 60
        for key in ("id", "root_id"):
            message["headers"].pop(key)
        message["properties"].pop("correlation_id")
    assert json.loads(base64.b64decode(ours.pop("body"))) == json.loads(base64.b64decode(theirs.pop("body"))) == [
        [], kwargs, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    assert ours == theirs


def test_every_message_has_its_own_task_id_and_delivery_tag(broker):
    outbox.send_many([("tests.noop", QUEUE, {"n": n}) for n in range(3)])
    messages = [json.loads(raw) for raw in broker.lrange(QUEUE, 0, -1)]
    assert len({m["headers"]["id"] for m in messages}) == len({m["properties"]["delivery_tag"] for m in messages}) == 3


# --- after commit --------------------------------------------------------------------------------


def test_without_the_publisher_the_committing_thread_publishes_and_confirms(committed_db, owner_engine, broker, inline):
    marker = uuid.uuid4().hex
    _commit(committed_db, *({"marker": marker, "n": n} for n in range(3)))
    # Nothing to wait for: the commit returned after both.
    assert _queued(broker) == [{"marker": marker, "n": n} for n in range(3)]
    rows = _rows(owner_engine, marker)
    assert len(rows) == 3 and all(row.published_at is not None and row.publish_attempts == 0 for row in rows)


def test_the_background_publisher_publishes_at_once_and_confirms_shortly_after(committed_db, owner_engine, broker,
                                                                              publisher):
    marker = uuid.uuid4().hex
    for n in range(5):
        _commit(committed_db, {"marker": marker, "n": n})
    _wait(lambda: len(_queued(broker)) == 5)
    assert sorted(m["n"] for m in _queued(broker)) == list(range(5))
    _wait(lambda: all(row.published_at is not None for row in _rows(owner_engine, marker)))
    assert len(_rows(owner_engine, marker)) == 5


def test_stopping_the_publisher_publishes_and_confirms_everything_handed_to_it(committed_db, owner_engine, broker,
                                                                              publisher):
    marker = uuid.uuid4().hex
    for n in range(40):
        _commit(committed_db, {"marker": marker, "n": n})
    outbox.stop_publisher()
    assert outbox._publisher is None and not publisher._thread.is_alive()
    assert sorted(m["n"] for m in _queued(broker)) == list(range(40))
    assert all(row.published_at is not None for row in _rows(owner_engine, marker))


def test_a_rolled_back_transaction_publishes_nothing(committed_db, owner_engine, broker, inline):
    marker = uuid.uuid4().hex
    with pytest.raises(RuntimeError), committed_db() as session, session.begin():
        outbox.enqueue(session, "tests.noop", QUEUE, {"marker": marker})
        raise RuntimeError("changed my mind")
    assert _queued(broker) == [] and _rows(owner_engine, marker) == []


def test_a_delayed_message_waits_for_the_relay(committed_db, owner_engine, broker, inline):
    marker = uuid.uuid4().hex
    _commit(committed_db, {"marker": marker}, delay_seconds=60)
    assert _queued(broker) == []
    [row] = _rows(owner_engine, marker)
    assert row.published_at is None and row.countdown_seconds == 60
    assert 55 < row.due_in.total_seconds() <= 60
    with committed_db() as session, session.begin():
        outbox.relay(session)
    assert _queued(broker) == []  # not due yet


@pytest.mark.parametrize("mode", ["inline", "publisher"])
def test_with_the_broker_away_the_commit_stands_and_the_relay_publishes_later(mode, committed_db, owner_engine,
                                                                             broker, monkeypatch):
    outbox.stop_publisher()
    if mode == "publisher":
        outbox.start_publisher()
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    monkeypatch.setattr(outbox, "_broker", lambda: unreachable)
    marker = uuid.uuid4().hex
    try:
        _commit(committed_db, {"marker": marker})
    finally:
        outbox.stop_publisher()
    [row] = _rows(owner_engine, marker)
    assert row.published_at is None

    monkeypatch.undo()
    with owner_engine.begin() as connection:  # past the grace period the relay takes it over
        connection.execute(text("UPDATE outbox SET created_at = now() - interval '1 hour' WHERE id = :id"),
                           {"id": row.id})
    with committed_db() as session, session.begin():
        outbox.relay(session)
    assert _queued(broker) == [{"marker": marker}]
    [row] = _rows(owner_engine, marker)
    assert row.published_at is not None and row.publish_attempts == 1


def test_the_application_runs_the_publisher_for_its_lifetime(migrated):
    from fastapi.testclient import TestClient

    from app.main import create_app

    outbox.stop_publisher()
    with TestClient(create_app()):
        running = outbox._publisher
        assert running is not None and running._thread.is_alive()
    assert outbox._publisher is None and not running._thread.is_alive()


def test_with_the_publisher_s_backlog_full_a_commit_leaves_the_message_to_the_relay(committed_db, owner_engine,
                                                                                   broker, publisher, monkeypatch):
    """The broker has been away for long: the request neither waits for it nor queues more in memory."""
    monkeypatch.setattr(outbox._Publisher, "MAX_BACKLOG", -1)  # full whatever its size
    sends = []
    monkeypatch.setattr(outbox, "send_many", lambda messages: sends.append(list(messages)))
    marker = uuid.uuid4().hex
    _commit(committed_db, {"marker": marker})
    outbox.stop_publisher()
    assert sends == []
    [row] = _rows(owner_engine, marker)
    assert row.published_at is None


# --- done by the committing process ----------------------------------------------------------


@pytest.fixture
def in_process(committed_db, monkeypatch, inline):
    """This process does `tests.here` itself, as a worker does the pipeline's advance. The handler records
    each call with how many handlers were running when it began, and does what the message asks: fail, or
    commit a message of its own (`then`)."""
    calls: list[dict] = []
    running = [0]

    def handler(**kwargs) -> None:
        calls.append({**kwargs, "depth": running[0]})
        running[0] += 1
        try:
            if kwargs.get("fail"):
                raise RuntimeError("the handler failed")
            if kwargs.get("then"):
                _commit_here(committed_db, kwargs["then"])
        finally:
            running[0] -= 1

    monkeypatch.setitem(outbox._IN_PROCESS, "tests.here", handler)
    yield calls


def _commit_here(factory, kwargs: dict) -> None:
    with factory() as session, session.begin():
        outbox.enqueue(session, "tests.here", QUEUE, kwargs)


def test_a_task_this_process_does_itself_is_done_after_commit_and_confirmed_not_sent(committed_db, owner_engine,
                                                                                       broker, in_process):
    marker = uuid.uuid4().hex
    with committed_db() as session, session.begin():
        outbox.enqueue(session, "tests.here", QUEUE, {"marker": marker})
        outbox.enqueue(session, "tests.noop", QUEUE, {"marker": marker, "sent": True})
        assert in_process == []  # not before the commit
    assert [call["marker"] for call in in_process] == [marker]
    assert _queued(broker) == [{"marker": marker, "sent": True}]
    assert all(row.published_at is not None for row in _rows(owner_engine, marker))


def test_a_task_done_here_that_fails_is_left_to_the_broker(committed_db, owner_engine, broker, in_process):
    marker = uuid.uuid4().hex
    _commit_here(committed_db, {"marker": marker, "fail": True})
    assert len(in_process) == 1
    assert _queued(broker) == [{"marker": marker, "fail": True}]
    [row] = _rows(owner_engine, marker)
    assert row.published_at is not None


def test_what_a_task_done_here_commits_is_done_after_it_not_inside_it(committed_db, owner_engine, broker, in_process):
    marker = uuid.uuid4().hex
    _commit_here(committed_db, {"marker": marker, "step": 1, "then": {"marker": marker, "step": 2}})
    assert [(call["step"], call["depth"]) for call in in_process] == [(1, 0), (2, 0)]
    assert _queued(broker) == []
    rows = _rows(owner_engine, marker)
    assert len(rows) == 2 and all(row.published_at is not None for row in rows)
