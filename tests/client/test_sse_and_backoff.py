"""The client's pure parts: the SSE decoder, Retry-After, the backoff's bounds."""

import random
from datetime import UTC, datetime

import pytest

from agentline_client import RetryPolicy, ServerSentEvent, SSEDecoder
from agentline_client._retry import parse_retry_after


def decode(text: str, decoder: SSEDecoder | None = None) -> list[ServerSentEvent]:
    decoder = decoder or SSEDecoder()
    return [event for line in text.split("\n") if (event := decoder.feed(line)) is not None]


def test_the_apis_state_events_and_keep_alive_comments():
    stream = ('id: 7\nevent: state\ndata: {"id": 7, "to_status": "running"}\n\n'
              ": keep-alive\n\n"
              'id: 8\nevent: state\ndata: {"id": 8, "to_status": "succeeded"}\n\n')
    assert decode(stream) == [
        ServerSentEvent("state", '{"id": 7, "to_status": "running"}', "7"),
        ServerSentEvent("state", '{"id": 8, "to_status": "succeeded"}', "8"),
    ]


def test_data_lines_join_and_one_leading_space_is_dropped():
    assert decode("data:a\ndata:  b\ndata\n\n") == [ServerSentEvent("message", "a\n b\n", None)]


def test_an_event_is_dispatched_only_at_a_blank_line_and_only_with_data():
    decoder = SSEDecoder()
    assert decode("event: state\nid: 3\n\n", decoder) == []  # no data: nothing to dispatch
    assert decoder.last_event_id == "3"  # but the id stands, for the reconnect
    assert decode("data: x", decoder) == []  # the stream ended mid-event: not dispatched


def test_the_last_event_id_persists_until_another_is_given():
    decoder = SSEDecoder(last_event_id="41")
    events = decode("data: a\n\nid: 42\ndata: b\n\ndata: c\n\nid\ndata: d\n\n", decoder)
    assert [event.id for event in events] == ["41", "42", "42", ""]


def test_unknown_fields_and_a_malformed_retry_are_ignored():
    assert decode("foo: bar\nretry: soon\ndata: x\n\nretry: 3000\ndata: y\n\n") == [
        ServerSentEvent("message", "x", None), ServerSentEvent("message", "y", None, retry=3000)]


@pytest.mark.parametrize(("header", "seconds"), [
    ("3", 3.0), (" 120 ", 120.0), ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
    ("Wednesday, 21-Oct-15 07:28:10 GMT", 10.0), ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ("-1", None), ("soon", None), (None, None),
])
def test_retry_after_in_seconds_or_as_an_http_date(header, seconds):
    assert parse_retry_after(header, now=datetime(2015, 10, 21, 7, 28, tzinfo=UTC)) == seconds


def test_full_jitter_stays_under_a_doubling_ceiling_capped_at_max_backoff():
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=3.0)
    rng = random.Random(7)
    for retry, ceiling in enumerate([0.5, 1.0, 2.0, 3.0, 3.0]):
        delays = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.9 and min(delays) < ceiling * 0.1  # spread over the whole range
