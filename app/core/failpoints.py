"""Named crash points for fault-injection tests (in the manner of FoundationDB's and TiKV's failpoints).

`AGENTLINE_FAILPOINTS=outbox.after_commit` makes the process die with SIGKILL semantics (os._exit, no
cleanup, no flush) when it reaches that point. Unset in every real deployment; reading one environment
variable is the whole cost.
"""

import os

_ACTIVE = frozenset(filter(None, os.environ.get("AGENTLINE_FAILPOINTS", "").split(",")))


def failpoint(name: str) -> None:
    if name in _ACTIVE:
        os._exit(137)
