"""`generate()`: the one way agents call a model.

    generation = generate(ctx, step="qualify", prompt_key="sdr.qualify", variables={...},
                          output_model=Qualification, validators=[score_matches_bucket])
    generation.output        # a validated Qualification
    generation.confidence    # 0..1; generation.offline tells a rule-based answer from a model's

The whole call (its retries, the repair attempt, the fallback chain) runs inside `ctx.step(step, …)`: once
it has succeeded, a run executed again after its worker died reads the stored Generation and does not call
the model again. Every attempt is written to llm_logs in its own transaction as it happens, so attempts
are on the books even when the step fails.

For each provider of the tenant's chain (primary, then fallbacks): skip it if its circuit breaker is open;
otherwise check the budget, call, and on a transient error retry with exponential backoff and full jitter,
never sooner than the provider's Retry-After, and move on to the next provider when the retries are spent
or the wait would exceed LLM_RETRY_MAX_WAIT_SECONDS. An answer that fails the schema (or a business
validator) gets one repair attempt, with the errors, from the same provider.

Errors reach the run engine classified: a spent budget, an invalid configuration, a missing prompt
variable, an answer still invalid after its repair, or requests every provider rejected are
PermanentError; providers that are down or rate limited are TransientError (the run is retried later).
"""

import random
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Generic, NamedTuple, TypeVar

import psycopg
import structlog
from pydantic import BaseModel
from redis import Redis
from sqlalchemy.exc import NoResultFound

from app.agents.base import RunContext
from app.core.config import Settings, get_settings
from app.core.db import Script, script_connection
from app.core.money import Usd
from app.core.redis import get_redis
from app.llm import budgets, ledger
from app.llm.breaker import CircuitBreaker
from app.llm.config import LlmConfig, LlmConfigError, Target, resolve_config
from app.llm.prices import cost_usd
from app.llm.providers import ModelRequest, ModelResponse, ProviderError, get_provider
from app.llm.structured import (
    Validator, business_issues, confidence, parse_answer, repair_request, schema_of, with_schema_instructions,
)
from app.prompts import service as prompts
from app.prompts.registry import Prompt
from app.prompts.service import UnknownPrompt
from app.prompts.template import MissingVariable
from app.runs.errors import PermanentError, TransientError

log = structlog.get_logger(__name__)
OutputT = TypeVar("OutputT", bound=BaseModel)


class Generation(BaseModel, Generic[OutputT]):
    """A validated answer and how it was obtained. This is what the step stores."""

    output: OutputT
    provider: str
    model: str
    offline: bool
    prompt_key: str
    prompt_version: int
    prompt_source: str
    confidence: float
    repaired: bool
    fell_back: bool
    issues: list[str]
    attempts: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Usd


def generate(ctx: RunContext, *, step: str, prompt_key: str, variables: dict[str, Any],
             output_model: type[OutputT], validators: Sequence[Validator] = (),
             refuse_issues: bool = False) -> Generation[OutputT]:
    """`refuse_issues`: business issues left after the repair attempt fail the call (`output_invalid`)
    instead of being returned in `generation.issues`. The step is then not recorded, so a retried run asks
    the model again rather than reading back the refused answer."""
    def call(_session: Any) -> dict[str, Any]:
        # The step's session is not used: holding its transaction open for the length of a model call would
        # pin a connection for nothing. Reads and log writes are short transactions of their own (_Connection).
        return _Call(ctx, step, prompt_key, variables, output_model, validators, get_settings(),
                     refuse_issues=refuse_issues).run()

    stored = ctx.step(step, call)
    return generation_of(output_model).model_validate(stored)


@lru_cache(maxsize=256)
def generation_of(output_model: type[OutputT]) -> type[Generation[OutputT]]:
    """`Generation[output_model]`, held: pydantic keeps parametrized models only weakly, and rebuilding one
    costs milliseconds, more than the rest of a call's bookkeeping."""
    return Generation[output_model]  # type: ignore[valid-type]


# The read before every call, one round trip: the tenant's settings, this month's usage, the prompt pointer
# (with the tenant version's text) and, for a run's second attempt and later, how many attempts of this
# step are on the books already (with a NULL run id that subquery is an empty scan of an index).
_LOAD = Script(f"""
SELECT tenant.settings, usage.tokens, usage.cost_usd, pointer.source, pointer.version, pointer.system_template,
       pointer.user_template, pointer.description, pointer.created_at,
       (SELECT count(*) FROM llm_logs WHERE run_id = %(earlier_run_id)s::uuid AND step = %(step)s::text) AS earlier
  FROM tenants AS tenant
 CROSS JOIN ({budgets.MONTH_USAGE_SQL}) AS usage
  LEFT JOIN ({prompts.POINTER_SQL}) AS pointer ON true
 WHERE tenant.id = %(tenant_id)s::uuid
""")


class _Loaded(NamedTuple):
    settings: dict[str, Any] | None
    tokens: Decimal
    cost_usd: Decimal
    # The prompt pointer, as prompts.prompt_from_pointer reads it: all None when the tenant has none.
    source: str | None
    version: int | None
    system_template: str | None
    user_template: str | None
    description: str | None
    created_at: datetime | None
    earlier: int


@lru_cache(maxsize=64)
def _breaker(provider: str, endpoint: str, threshold: int, cooldown_seconds: float, trial_timeout_seconds: float,
             client: Redis) -> CircuitBreaker:
    """Breakers keep no state in the process (it is in Redis): one per configuration, not one per call."""
    return CircuitBreaker(provider, endpoint, threshold=threshold, cooldown_seconds=cooldown_seconds,
                          trial_timeout_seconds=trial_timeout_seconds, client=client)


# A connection used less than this long ago is used again without the pool's ping (the same bypass window as
# HikariCP's default): it has just proved to be alive.
REUSE_WINDOW_SECONDS = 0.5


class _Connection:
    """The pooled connection one call's scripts run on: its read, budget checks and log rows.

    Each script is its own transaction; between them the connection is idle, in no transaction, so holding it
    locks nothing and pins no snapshot. Reused within REUSE_WINDOW_SECONDS of its last script, it saves a
    call the pool's checkout and check-in per script (0.1 ms a call in bench.llm_overhead; the pool would not
    ping a connection returned that recently either); after a longer model call (or backoff) it is returned
    to the pool and a fresh one checked out, pinged, as if the call had checked out each time. A script
    that fails returns it too, so a broken connection is never used twice."""

    def __init__(self) -> None:
        self._checkout: AbstractContextManager[psycopg.Connection] | None = None
        self._connection: psycopg.Connection | None = None
        self._used_at = 0.0

    @contextmanager
    def use(self) -> Iterator[psycopg.Connection]:
        if self._connection is not None and time.monotonic() - self._used_at > REUSE_WINDOW_SECONDS:
            self.release()
        if self._connection is None:
            checkout = script_connection()
            self._connection = checkout.__enter__()
            self._checkout = checkout
        try:
            yield self._connection
        except BaseException:
            self.release()
            raise
        self._used_at = time.monotonic()

    def release(self) -> None:
        if self._checkout is not None:
            checkout, self._checkout, self._connection = self._checkout, None, None
            checkout.__exit__(None, None, None)


@dataclass
class _Answer:
    response: ModelResponse
    latency_ms: float
    attempt: int
    is_retry: bool


@dataclass
class _Failure:
    target: Target
    code: str
    message: str
    transient: bool
    retry_after: float | None = None


@dataclass
class _Call:
    ctx: RunContext
    step: str
    prompt_key: str
    variables: dict[str, Any]
    output_model: type[BaseModel]
    validators: Iterable[Validator]
    settings: Settings
    refuse_issues: bool = False
    config: LlmConfig = field(init=False)
    prompt: Prompt = field(init=False)
    attempts: int = 0
    # True once this call has a failed or invalid attempt (or an earlier run attempt made it): the next
    # request for the same answer is a retry.
    retrying: bool = False
    spent: dict[str, Any] = field(default_factory=lambda: {"input": 0, "output": 0, "cached": 0,
                                                           "cost": Decimal(0)})
    db: _Connection = field(default_factory=_Connection)

    def run(self) -> dict[str, Any]:
        try:
            return self._run()
        finally:
            self.db.release()

    def _run(self) -> dict[str, Any]:
        self.config, self.prompt, earlier_attempts = self._load()
        self.retrying = earlier_attempts > 0
        try:
            rendered = self.prompt.render(self.variables)
        except MissingVariable as exc:
            raise PermanentError(f"prompt '{self.prompt_key}' v{self.prompt.version} ({self.prompt.source}): {exc}",
                                 code="prompt_variable_missing") from exc
        schema_name, json_schema = schema_of(self.output_model)
        request = ModelRequest(
            model="", system=rendered.system, messages=(("user", rendered.user),), schema_name=schema_name,
            json_schema=json_schema, temperature=self.config.temperature,
            max_output_tokens=self.config.max_output_tokens,
            variables=self.variables, prompt_key=self.prompt_key,
        )
        failures: list[_Failure] = []
        for position, target in enumerate(self.config.chain):
            outcome = self._with_provider(target, self._request_for(target, request), fell_back=position > 0)
            if isinstance(outcome, dict):
                return outcome
            failures.append(outcome)
        raise self._exhausted(failures)

    def _request_for(self, target: Target, request: ModelRequest) -> ModelRequest:
        provider = get_provider(target.provider, target.model, self.settings)
        system = request.system if provider.structured_output else with_schema_instructions(
            request.system, request.json_schema)
        return replace(request, model=target.model, system=system)

    def _load(self) -> tuple[LlmConfig, Prompt, int]:
        """Tenant settings, the active prompt and this month's usage in one round trip, then the first budget
        check: the read every call makes."""
        with self.db.use() as connection:
            rows = _LOAD.run(connection, self.ctx.tenant_id, {
                "prompt_key": self.prompt_key, "month_start": budgets.month_start(), "step": self.step,
                "earlier_run_id": self.ctx.run_id if self.ctx.attempt > 1 else None,
            })
        if not rows:
            raise NoResultFound(f"tenant {self.ctx.tenant_id} not found")
        row = _Loaded._make(rows[0])
        try:
            config = resolve_config(row.settings, self.settings)
        except LlmConfigError as exc:
            raise PermanentError(str(exc), code="llm_config_invalid") from exc
        try:
            prompt = prompts.prompt_from_pointer(self.prompt_key, row)
        except UnknownPrompt as exc:
            raise PermanentError(exc.detail, code="prompt_not_found") from exc
        budgets.enforce(config, budgets.MonthUsage(int(row.tokens), Decimal(row.cost_usd)))
        return config, prompt, row.earlier

    def _with_provider(self, target: Target, request: ModelRequest, *, fell_back: bool) -> dict[str, Any] | _Failure:
        answered = self._call(target, request, purpose="generate")
        if isinstance(answered, _Failure):
            return answered
        answer, problems = self._judge(target, request, answered, purpose="generate")
        repaired = False
        if problems:
            repair = replace(request, messages=request.messages + (
                ("assistant", answered.response.text), ("user", repair_request(problems))))
            second = self._call(target, repair, purpose="repair")
            if isinstance(second, _Failure):
                if answer is None:
                    return second
            else:
                fixed, fixed_problems = self._judge(target, repair, second, purpose="repair")
                if fixed is not None:
                    answer, problems, repaired = fixed, fixed_problems, True
                elif answer is None:
                    raise PermanentError(
                        f"{target.provider}:{target.model} answered '{self.prompt_key}' with output that fails "
                        f"{self.output_model.__name__} even after a repair attempt: {'; '.join(fixed_problems)}",
                        code="output_invalid", details={"errors": fixed_problems})
        # Here `answer` is schema-valid; `problems` are the business issues it still has, if any.
        assert answer is not None
        if problems and self.refuse_issues:
            raise PermanentError(
                f"{target.provider}:{target.model} answered '{self.prompt_key}' with output that breaks its rules "
                f"even after a repair attempt: {'; '.join(problems)}",
                code="output_invalid", details={"errors": problems})
        offline = target.provider == "offline"
        generation = generation_of(self.output_model)(
            output=answer, provider=target.provider, model=target.model, offline=offline,
            prompt_key=self.prompt.key, prompt_version=self.prompt.version, prompt_source=self.prompt.source,
            confidence=confidence(answer, repaired=repaired, issues=len(problems), offline=offline,
                                  fell_back=fell_back),
            repaired=repaired, fell_back=fell_back, issues=problems, attempts=self.attempts,
            input_tokens=self.spent["input"], output_tokens=self.spent["output"], cached_tokens=self.spent["cached"],
            cost_usd=self.spent["cost"],
        )
        return generation.model_dump(mode="json")

    def _judge(self, target: Target, request: ModelRequest, answered: _Answer, *,
               purpose: str) -> tuple[BaseModel | None, list[str]]:
        """Validate an answer and log its attempt. (None, schema errors) or (answer, business issues)."""
        answer, errors = parse_answer(answered.response.text, self.output_model)
        issues: list[str] = []
        try:
            if answer is not None:
                issues = business_issues(answer, self.validators)
        finally:
            # Logged even when a validator raises: the provider was paid for this answer either way.
            self._log(target, request, answered, purpose=purpose, errors=errors, issues=issues)
        return answer, errors or issues

    def _call(self, target: Target, request: ModelRequest, *, purpose: str) -> _Answer | _Failure:
        """One request to one provider, with retries of transient failures. Logs failed attempts; the caller
        logs a successful one once it knows whether the answer is valid."""
        provider = get_provider(target.provider, target.model, self.settings)
        breaker = _breaker(target.provider, provider.endpoint, self.settings.llm_breaker_failure_threshold,
                           self.settings.llm_breaker_cooldown_seconds, self.settings.llm_timeout_seconds + 5,
                           get_redis())
        for retry in range(self.settings.llm_max_retries + 1):
            self.ctx.check_cancelled()
            permit = breaker.permit()
            if not permit.allowed:
                log.info("llm_provider_skipped", provider=target.provider, reason="circuit_open")
                return _Failure(target, "circuit_open", f"{target.provider}: circuit breaker open", True,
                                permit.retry_after or self.settings.llm_breaker_cooldown_seconds)
            if self.attempts:  # the first attempt's check was part of _load
                with self.db.use() as connection:
                    usage = budgets.usage_now(connection, self.ctx.tenant_id, self.config)
                if usage is not None:
                    budgets.enforce(self.config, usage)
            self.attempts += 1
            is_retry = self.retrying and purpose == "generate"
            started = time.perf_counter()
            try:
                response = provider.complete(request)
            except ProviderError as exc:
                latency = (time.perf_counter() - started) * 1000
                self.retrying = True
                if exc.transient:
                    breaker.record_failure()
                self._log_failure(target, request, purpose, latency, is_retry, exc)
                if not exc.transient:
                    return _Failure(target, exc.code, exc.message, False)
                wait = self._backoff(retry, exc.retry_after)
                if retry == self.settings.llm_max_retries or wait is None:
                    return _Failure(target, exc.code, exc.message, True, exc.retry_after)
                time.sleep(wait)
                continue
            if permit.needs_reset:
                breaker.record_success()
            return _Answer(response, (time.perf_counter() - started) * 1000, self.attempts, is_retry)
        raise AssertionError("unreachable: the loop returns on its last iteration")

    def _backoff(self, retry: int, retry_after: float | None) -> float | None:
        """Full jitter under an exponential ceiling, never sooner than Retry-After; None if the provider asks
        for a longer wait than we hold a worker for (the next provider, or a later run attempt, then)."""
        limit = self.settings.llm_retry_max_wait_seconds
        if retry_after is not None and retry_after > limit:
            return None
        ceiling = min(limit, self.settings.llm_retry_base_seconds * 2 ** retry)
        return max(random.uniform(0, ceiling), retry_after or 0.0)

    def _account(self, target: Target, response: ModelResponse) -> Decimal:
        cost = cost_usd(target.provider, target.model, input_tokens=response.input_tokens,
                        output_tokens=response.output_tokens, cached_tokens=response.cached_tokens)
        self.spent["input"] += response.input_tokens
        self.spent["output"] += response.output_tokens
        self.spent["cached"] += response.cached_tokens
        self.spent["cost"] += cost
        return cost

    def _log(self, target: Target, request: ModelRequest, answered: _Answer, *, purpose: str, errors: list[str],
             issues: list[str]) -> None:
        response = answered.response
        cost = self._account(target, response)
        problem = errors or issues
        self._record(self._attempt(
            target, request, purpose, answered.latency_ms, answered.is_retry, attempt=answered.attempt,
            response={"text": response.text, "finish_reason": response.finish_reason, "id": response.response_id},
            tokens=(response.input_tokens, response.output_tokens, response.cached_tokens), cost=cost,
            status="invalid_output" if problem else "ok",
            error_code=("schema_validation" if errors else "business_rules") if problem else None,
            error="; ".join(problem) or None,
        ))
        if problem:
            self.retrying = True

    def _log_failure(self, target: Target, request: ModelRequest, purpose: str, latency_ms: float, is_retry: bool,
                     exc: ProviderError) -> None:
        log.warning("llm_call_failed", provider=target.provider, model=target.model, code=exc.code,
                    status=exc.status, retry_after=exc.retry_after, purpose=purpose)
        self._record(self._attempt(
            target, request, purpose, latency_ms, is_retry, attempt=self.attempts, response=None, tokens=(0, 0, 0),
            cost=Decimal(0), status="error", error_code=exc.code, error=exc.message,
        ))

    def _record(self, attempt: ledger.Attempt) -> None:
        with self.db.use() as connection:
            ledger.record(attempt, max_chars=self.settings.llm_log_max_chars, connection=connection)

    def _attempt(self, target: Target, request: ModelRequest, purpose: str, latency_ms: float, is_retry: bool, *,
                 attempt: int, response: dict[str, Any] | None, tokens: tuple[int, int, int], cost: Decimal,
                 status: str, error_code: str | None, error: str | None) -> ledger.Attempt:
        return ledger.Attempt(
            tenant_id=self.ctx.tenant_id, run_id=self.ctx.run_id, run_attempt=self.ctx.attempt, agent=self.ctx.agent,
            step=self.step, attempt=attempt, purpose=purpose, is_retry=is_retry, provider=target.provider,
            model=target.model, prompt_key=self.prompt.key, prompt_version=self.prompt.version,
            prompt_source=self.prompt.source, request=request.as_log(), response=response, input_tokens=tokens[0],
            output_tokens=tokens[1], cached_tokens=tokens[2], cost_usd=cost, latency_ms=latency_ms, status=status,
            error_code=error_code, error=error,
        )

    def _exhausted(self, failures: list[_Failure]) -> Exception:
        summary = "; ".join(f"{f.target.provider}:{f.target.model}: {f.message}" for f in failures)
        if all(not f.transient for f in failures):
            return PermanentError(f"every provider rejected the request for '{self.prompt_key}': {summary}",
                                  code="llm_request_rejected")
        waits = [f.retry_after for f in failures if f.transient and f.retry_after]
        return TransientError(f"no provider answered '{self.prompt_key}': {summary}", code="llm_unavailable",
                              retry_after=min(waits) if waits else None)
