"""The pool pings a connection on checkout only when it has been idle (app.core.db.PING_AFTER_IDLE_SECONDS):
a connection whose server process died while it sat idle is replaced, not handed out. The tests set the
idle threshold instead of sleeping past it: every pause is idle at -1 s, none at an hour, however loaded
the machine."""

from sqlalchemy import create_engine, text

from app.core import db
from app.core.config import get_settings


def _engine(url: str):
    engine = create_engine(url, pool_size=1, max_overflow=0)
    db._ping_idle_connections(engine)
    return engine


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_an_idle_connection_whose_server_process_died_is_replaced_on_checkout(migrated, owner_engine, monkeypatch):
    engine = _engine(migrated["database_url"])
    try:
        first = _backend_pid(engine)
        with owner_engine.connect() as owner:
            assert owner.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", -1.0)
        assert _backend_pid(engine) != first  # the ping failed, the pool connected afresh, the query ran
    finally:
        engine.dispose()


def test_a_connection_returned_a_moment_ago_is_not_pinged_again(migrated, monkeypatch):
    engine = _engine(migrated["database_url"])
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(1) or real_ping(connection))
    try:
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
        first = _backend_pid(engine)   # a new connection: just connected, no ping
        assert _backend_pid(engine) == first and pings == []
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", -1.0)
        assert _backend_pid(engine) == first and pings == [1]
    finally:
        engine.dispose()


def test_the_connection_returned_last_is_handed_out_first(app_engine):
    """LIFO: the connection in use a moment ago (alive, not pinged, its statements prepared) goes out again,
    and the others stay idle."""
    with app_engine.connect() as first, app_engine.connect() as second:
        first_pid = first.execute(text("SELECT pg_backend_pid()")).scalar_one()
        second_pid = second.execute(text("SELECT pg_backend_pid()")).scalar_one()
        first.close()  # returned before `second`
    assert first_pid != second_pid
    for _ in range(3):
        assert _backend_pid(app_engine) == second_pid


def test_runtime_connections_end_a_transaction_left_idle(app_engine):
    """A backstop against a transaction left open (a lock and a connection slot held by nobody working):
    the server ends it after DB_IDLE_IN_TRANSACTION_TIMEOUT_MS."""
    with app_engine.connect() as connection:
        timeout = connection.execute(text(
            "SELECT setting::int FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'")).scalar_one()
    assert timeout == get_settings().db_idle_in_transaction_timeout_ms > 0
