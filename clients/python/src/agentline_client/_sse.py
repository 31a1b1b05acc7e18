"""Server-sent events, decoded from a stream's lines as the WHATWG HTML standard says ("Interpreting an
event stream")."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None
    retry: int | None = None


class SSEDecoder:
    """Feed it the stream's lines (without their line ending); it returns an event at each blank line that
    ends one. `last_event_id` persists across events, as the standard has it: it is what a reconnect
    sends as Last-Event-ID."""

    def __init__(self, last_event_id: str | None = None):
        self.last_event_id = last_event_id
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None

    def feed(self, line: str) -> ServerSentEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):  # a comment: the API's keep-alive
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event, retry = self._data, self._event or "message", self._retry
        self._event, self._data, self._retry = "", [], None
        if not data:  # an event with no data line is not dispatched
            return None
        return ServerSentEvent(event=event, data="\n".join(data), id=self.last_event_id, retry=retry)
