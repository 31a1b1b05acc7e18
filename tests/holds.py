"""Holding a request at a failpoint (app.core.failpoints.acting), so a race in a test is a sequence."""

import threading


class HoldFirst:
    """A failpoint action that holds the first thread reaching it until released; later ones pass."""

    def __init__(self) -> None:
        self.reached, self.released = threading.Event(), threading.Event()
        self._taken = threading.Lock()

    def __call__(self) -> None:
        if self._taken.acquire(blocking=False):
            self.reached.set()
            assert self.released.wait(30), "the held request was never released"
