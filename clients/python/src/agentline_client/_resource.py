"""Resources are written once for both clients: each method builds an operation (agentline_client._engine),
and the descriptors below hand it to the client that owns the resource, which runs it synchronously or
returns a coroutine. Their overloaded `__get__` gives type checkers each client's signature:
`Agentline().runs.get` is `(run_id) -> RunDetail`, `AsyncAgentline().runs.get` is
`(run_id) -> Coroutine[…, RunDetail]`."""

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from agentline_client._engine import Core, Op, Plan, Stream, exchange

P = ParamSpec("P")
T = TypeVar("T")


class Sync:
    """The mode of `Agentline`'s resources."""


class Async:
    """The mode of `AsyncAgentline`'s resources."""


M = TypeVar("M", Sync, Async)


class Runner(Protocol):
    """What a client does with an operation: `run` one that returns a value, `iterate` one that emits."""

    core: Core

    def run(self, operation: Op[Any]) -> Any: ...

    def iterate(self, operation: Stream[Any]) -> Any: ...


class Resource(Generic[M]):
    def __init__(self, runner: Runner):
        self._runner = runner

    @property
    def _core(self) -> Core:
        return self._runner.core

    def _call(self, plan: Plan[T]) -> Op[T]:
        return exchange(self._core, plan)


class call(Generic[P, T]):
    """A method whose operation returns a T: T in the sync client, an awaitable T in the async one."""

    def __init__(self, build: Callable[Concatenate[Any, P], Op[T]]):
        self._build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, resource: None, owner: type) -> "call[P, T]": ...

    @overload
    def __get__(self, resource: Resource[Sync], owner: type) -> Callable[P, T]: ...

    @overload
    def __get__(self, resource: Resource[Async], owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(self, resource: Resource[Any] | None, owner: type) -> Any:
        if resource is None:
            return self
        build = self._build

        def method(*args: Any, **kwargs: Any) -> Any:
            return resource._runner.run(build(resource, *args, **kwargs))

        method.__doc__, method.__name__ = build.__doc__, build.__name__
        return method


class stream(Generic[P, T]):
    """A method whose operation emits T items: an iterator in the sync client, an async iterator in the
    async one. Nothing is sent before the first item is asked for."""

    def __init__(self, build: Callable[Concatenate[Any, P], Stream[T]]):
        self._build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, resource: None, owner: type) -> "stream[P, T]": ...

    @overload
    def __get__(self, resource: Resource[Sync], owner: type) -> Callable[P, Iterator[T]]: ...

    @overload
    def __get__(self, resource: Resource[Async], owner: type) -> Callable[P, AsyncIterator[T]]: ...

    def __get__(self, resource: Resource[Any] | None, owner: type) -> Any:
        if resource is None:
            return self
        build = self._build

        def method(*args: Any, **kwargs: Any) -> Any:
            return resource._runner.iterate(build(resource, *args, **kwargs))

        method.__doc__, method.__name__ = build.__doc__, build.__name__
        return method
