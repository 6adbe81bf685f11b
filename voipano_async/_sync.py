"""The blocking client's shape: its base, and each method made from the async one's.

There is one implementation of every request: the async one. ``Voipano`` (``_voipano.py``)
runs an ``AsyncVoipano`` on its own event-loop thread (``_loop``). Its methods are not
written out again: each is made here from the ``AsyncVoipano`` method of the same name
(``blocking``, ``copying``, ``same_arguments``), keeping that method's parameters for type
checkers, ``help()`` and ``inspect``; what a method returns besides a result has its
blocking twin (``_twins``).
"""

from __future__ import annotations

import copy
import functools
import inspect
import types
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, Self, TypeAlias, TypeVar, overload

from ._client import AsyncVoipano, ClientSettings
from ._loop import Runner
from ._pager import CallReportPager
from ._streams import AudioStreamContext
from ._twins import CallReportIterator, StreamContextSync

__all__ = [
    "BlockingBase",
    "BlockingMethod",
    "CopyingMethod",
    "blocking",
    "copying",
    "same_arguments",
]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
B = TypeVar("B", bound="BlockingBase")


class BlockingBase(ClientSettings):
    """What the blocking client adds to the async one: its thread, and closing it.

    ``Voipano`` (``_voipano.py``) builds on this; its settings (``base_url``, ``retry``,
    ``spent``...) are ``ClientSettings``, read from the async client it runs.
    """

    _async: AsyncVoipano
    _runner: Runner
    _owns_runner: bool

    def _start(self, client: AsyncVoipano) -> None:
        self._async = client
        self._runner = Runner()
        self._runner.on_stop = client.aclose
        self._owns_runner = True

    def _calls_through(self) -> AsyncVoipano:
        return self._async

    def _wrap(self, client: AsyncVoipano) -> Self:
        """A client over ``client`` sharing this one's loop thread (``with_options``)."""
        clone = copy.copy(self)
        clone._async = client
        clone._owns_runner = False
        return clone

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The methods ``blocking`` made belong to the subclass (``Voipano``), for
        # ``help()``, tracebacks and the docs.
        super().__init_subclass__(**kwargs)
        for name, value in vars(cls).items():
            if isinstance(value, types.FunctionType) and value.__module__ == __name__:
                value.__qualname__ = f"{cls.__qualname__}.{name}"
                value.__module__ = cls.__module__

    @property
    def is_closed(self) -> bool:
        """Whether this client (or the client whose pool it shares) has been closed."""
        return self._async.is_closed or self._runner.closed

    def close(self) -> None:
        """Close the client, its connection pool and its loop thread; twice is harmless."""
        if self._runner.closed:
            return
        if self._owns_runner:
            self._runner.stop()  # closes the pool on the loop first
        else:
            self._runner.run(self._async.aclose)

    def __enter__(self) -> Self:
        if self.is_closed:
            self._runner.run(self._async.__aenter__)  # raises the closed-client error
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- the blocking client's methods, made from the async client's --------------------------


# A method read from the class rather than a client: it takes the client first.
Unbound: TypeAlias = Callable[Concatenate["BlockingBase", P], R]


class BlockingMethod(Protocol[P, R_co]):
    """How type checkers see a method of ``Voipano``: the async method's parameters, ``R_co``.

    At run time it is a plain function (``blocking`` makes it), so it binds, shows in
    ``help()`` and answers ``inspect.signature`` like any method.
    """

    @overload
    def __get__(self, client: None, owner: type[Any], /) -> Unbound[P, R_co]: ...
    @overload
    def __get__(self, client: BlockingBase, owner: type[Any], /) -> Callable[P, R_co]: ...


class CopyingMethod(Protocol[P]):
    """How type checkers see ``Voipano.with_options``: it returns a client of its own type."""

    @overload
    def __get__(self, client: None, owner: type[Any], /) -> Unbound[P, BlockingBase]: ...
    @overload
    def __get__(self, client: B, owner: type[Any], /) -> Callable[P, B]: ...


def _mirror(
    method: Callable[..., Any], call: Callable[..., Any], returns: str | None = None
) -> Any:
    """Give ``call`` the name, parameters and summary of the async ``method`` it runs."""
    name = method.__name__
    call.__name__ = name
    summary = (method.__doc__ or "").strip().partition("\n")[0]
    link = f"AsyncVoipano.{name}"
    call.__doc__ = f"{summary}\n\nThe blocking form of [`{link}`][voipano_async.{link}]."
    signature = inspect.signature(method)
    if returns is not None:
        signature = signature.replace(return_annotation=returns)
    call.__signature__ = signature  # type: ignore[attr-defined]
    return call


# The blocking twin of each async object an endpoint method can return, by class name (the
# methods' annotations are strings): a new kind of async result fails here, at import.
_TWINS: dict[str, type[CallReportIterator | StreamContextSync]] = {
    CallReportPager.__name__: CallReportIterator,
    AudioStreamContext.__name__: StreamContextSync,
}


@overload
def blocking(
    method: Callable[Concatenate[AsyncVoipano, P], CallReportPager],
) -> BlockingMethod[P, CallReportIterator]: ...
@overload
def blocking(
    method: Callable[Concatenate[AsyncVoipano, P], AudioStreamContext],
) -> BlockingMethod[P, StreamContextSync]: ...
@overload
def blocking(
    method: Callable[Concatenate[AsyncVoipano, P], Coroutine[Any, Any, R]],
) -> BlockingMethod[P, R]: ...
def blocking(method: Callable[..., Any]) -> Any:
    """The blocking form of an ``AsyncVoipano`` endpoint method, chosen by what it returns.

    A coroutine is run on the client's loop thread and its result returned; a pager becomes
    a ``CallReportIterator`` and a stream context a ``StreamContextSync``, which run their
    own steps on that thread.
    """
    if inspect.iscoroutinefunction(method):

        def call(client: BlockingBase, /, *args: Any, **kwargs: Any) -> Any:
            return client._runner.run(functools.partial(method, client._async, *args, **kwargs))

        return _mirror(method, call)
    returns = inspect.signature(method).return_annotation
    into = _TWINS.get(getattr(returns, "__name__", returns))
    if into is None:
        raise TypeError(f"no blocking form for {method.__qualname__}, which returns {returns}")

    def call_into(client: BlockingBase, /, *args: Any, **kwargs: Any) -> Any:
        return into(method(client._async, *args, **kwargs), client._runner)

    return _mirror(method, call_into, into.__name__)


def copying(
    method: Callable[Concatenate[AsyncVoipano, P], AsyncVoipano],
) -> CopyingMethod[P]:
    """The blocking form of ``with_options``: the copy, run by this client's loop thread."""

    def call(client: BlockingBase, /, *args: Any, **kwargs: Any) -> Any:
        return client._wrap(method(client._async, *args, **kwargs))

    return _mirror(method, call, "Voipano")  # type: ignore[no-any-return]


def same_arguments(
    source: Callable[P, Any],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]:
    """Give a constructor ``source``'s parameters (``Voipano.__init__`` from ``AsyncVoipano``)."""

    def decorate(init: Callable[..., None]) -> Callable[Concatenate[Any, P], None]:
        init.__signature__ = inspect.signature(source.__init__)  # type: ignore[attr-defined]
        return init

    return decorate
