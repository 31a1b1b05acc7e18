"""The pipeline and stage state machines, in one place."""

from enum import StrEnum

from app.core.errors import Conflict


class PipelineStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"  # every stage done
    stopped = "stopped"  # ended early for a business reason: the lead was disqualified or suppressed, a review expired
    rejected = "rejected"  # a reviewer rejected a stage's output
    failed = "failed"  # a stage's run failed or was dead-lettered
    cancelled = "cancelled"


class StageStatus(StrEnum):
    pending = "pending"
    active = "active"
    succeeded = "succeeded"
    stopped = "stopped"
    rejected = "rejected"
    failed = "failed"
    cancelled = "cancelled"


P, S = PipelineStatus, StageStatus
PIPELINE_TRANSITIONS: dict[PipelineStatus, frozenset[PipelineStatus]] = {
    P.running: frozenset({P.succeeded, P.stopped, P.rejected, P.failed, P.cancelled}),
    **{status: frozenset() for status in (P.succeeded, P.stopped, P.rejected, P.failed, P.cancelled)},
}
STAGE_TRANSITIONS: dict[StageStatus, frozenset[StageStatus]] = {
    S.pending: frozenset({S.active, S.cancelled}),
    S.active: frozenset({S.succeeded, S.stopped, S.rejected, S.failed, S.cancelled}),
    **{status: frozenset() for status in (S.succeeded, S.stopped, S.rejected, S.failed, S.cancelled)},
}
FINISHED_STAGE = frozenset({S.succeeded, S.stopped, S.rejected, S.failed, S.cancelled})
# How a stage that ended without succeeding ends its pipeline.
PIPELINE_END = {S.stopped: P.stopped, S.rejected: P.rejected, S.failed: P.failed, S.cancelled: P.cancelled}


def check_pipeline(current: PipelineStatus, target: PipelineStatus) -> None:
    if target not in PIPELINE_TRANSITIONS[current]:
        raise Conflict(f"The pipeline is already {current.value}.", pipeline_status=current.value)


def check_stage(current: StageStatus, target: StageStatus) -> None:
    if target not in STAGE_TRANSITIONS[current]:
        raise ValueError(f"a stage cannot go from {current} to {target}")
