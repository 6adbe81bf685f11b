"""Running a command: the client from the global options, the event loop with Ctrl-C,
and the one mapping from errors to messages and exit statuses.

Exit status: 0 on success; 1 on an API or network error, or when a recording failed;
2 on a usage error (click's, or one raised here); 130 when interrupted; 141 when the
reader of standard output went away.
"""

from __future__ import annotations

import codecs
import io
import logging
import math
import re
import signal
import sqlite3
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import anyio
import attrs
import click

from voipano_async import (
    AsyncVoipano,
    InvalidPhoneNumberError,
    VoipanoError,
    normalize_phone_number,
)
from voipano_async._dataset import DatasetError, ReportDataset
from voipano_async._logs import ENV_HANDLER
from voipano_async._taskgroup import FirstErrorGroup

from ._render import stderr

__all__ = [
    "Settings",
    "exit_on_failures",
    "fail",
    "interruptible",
    "invoke",
    "log_requests",
    "phone",
    "rate",
    "run",
    "serve",
]

T = TypeVar("T")


def rate(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """--rate-limit's value: requests a second, more than 0; fractions allowed (0.5: one
    every 2 s). A click callback, so that every bad value gets the same one message."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        given = repr(value)
        source = ctx.get_parameter_source(param.name or "")
        if source is click.core.ParameterSource.ENVIRONMENT and isinstance(param.envvar, str):
            given = f"{param.envvar}={given}"  # not typed on the command line: say where
        raise click.BadParameter(
            f"{given} is not a rate: give a number of requests per second, more than 0, "
            "such as 5 or 0.5"
        )
    return number


@attrs.define
class Settings:
    """The global options, and the client they describe."""

    token: str | None
    base_url: str | None
    sandbox: bool
    sandbox_latency: float
    verbose: int
    quiet: bool
    ca_bundle: str | None = None
    base_url_name: str = "--base-url"
    max_retries: int | None = None
    rate_limit: float | None = None
    sandbox_dialect: str = "published"
    allow_http: bool = False

    def client(self) -> AsyncVoipano:
        # The options that apply to the sandbox's client as well as to the service's.
        options: dict[str, Any] = {"rate_limit": self.rate_limit}
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        if self.sandbox:
            # Imported when asked for: the other runs are spared its import time.
            from voipano_async.testing import VoipanoSandbox

            sandbox = VoipanoSandbox()
            sandbox.latency = self.sandbox_latency
            sandbox.dialect = self.sandbox_dialect
            return sandbox.client(**options)
        if not (self.token or "").strip():
            raise click.UsageError(
                "no API token: pass --token or set VOIPANO_TOKEN (or try --sandbox)"
            )
        try:
            return AsyncVoipano(
                self.token,
                base_url=self.base_url,
                verify=self._verify(),
                allow_http=self.allow_http,
                **options,
            )
        except VoipanoError as exc:
            # The SDK names its argument; a command line user knows the option.
            message = re.sub(r"\bbase_url\b", self.base_url_name, str(exc), count=1)
            message = message.replace("allow_http=True", "--allow-http")
            raise click.UsageError(message) from None

    def _verify(self) -> ssl.SSLContext | bool:
        """The CA certificates to trust: --ca-bundle's file or directory, else the system's."""
        if not self.ca_bundle:
            return True
        path = Path(self.ca_bundle)
        try:
            if path.is_dir():
                return ssl.create_default_context(capath=str(path))
            return ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise click.BadParameter(
                f"cannot load CA certificates from {self.ca_bundle!r}: {exc}",
                param_hint="--ca-bundle",
            ) from None


def log_requests(verbose: int) -> None:
    """-v logs each request on stderr, -vv retries too."""
    if verbose:
        logger = logging.getLogger("voipano_async")
        logger.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
        if any(handler.get_name() == ENV_HANDLER for handler in logger.handlers):
            return  # VOIPANO_LOG already writes them on stderr
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


class _DriftLines(logging.Handler):
    """The SDK's drift warnings, one line each on stderr: ``drift: GET /services: ...``."""

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        line = " ".join(map(str, args[:2])) + f": {args[2]}" if len(args) == 3 else None
        stderr.print(f"drift: {line or record.getMessage()}", markup=False, highlight=False)


def show_drift(quiet: bool) -> None:
    """Answers read though they drifted are told on stderr (once per place), unless -q."""
    logger = logging.getLogger("voipano_async.drift")
    logger.propagate = False
    logger.handlers = [logging.NullHandler() if quiet else _DriftLines()]


def phone(value: str, name: str) -> str:
    """The phone number argument ``name``, normalised; a usage error when it is not one."""
    try:
        return normalize_phone_number(value)
    except InvalidPhoneNumberError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


def fail(message: str, code: int = 1) -> NoReturn:
    """One error line on stderr, then exit with ``code``."""
    stderr.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    sys.exit(code)


def exit_on_failures(failures: Sequence[object]) -> None:
    """Exit status 1 when some items failed (the summary has listed them)."""
    if failures:
        sys.exit(1)


class _Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM, received as a signal inside the loop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Terminated(Exception):
    """SIGTERM stopped the command (systemd, ``docker stop``, Kubernetes, ``timeout``)."""


_STOPPING = (signal.SIGINT, signal.SIGTERM)


async def _watch_signals(job: anyio.CancelScope, received: list[int]) -> None:
    """Take SIGINT and SIGTERM in the loop: the first cancels the job, in order.

    The receiver stays open until the job's cleanup is done, so a second Ctrl-C (or a
    repeated SIGTERM) while it runs is taken here too, and changes nothing: the cleanup
    finishes quietly, with no traceback from a signal landing in the middle of it.
    """
    try:
        try:
            with anyio.open_signal_receiver(*_STOPPING) as signals:
                async for signum in signals:
                    if not received:
                        received.append(signum)
                        job.cancel()
        finally:
            if received:
                # Stopping: what comes now is the way out, and no signal interrupts it.
                for signum in _STOPPING:
                    signal.signal(signum, signal.SIG_IGN)
    except (NotImplementedError, ValueError, RuntimeError):
        # No signal handling here (Windows, or not the main thread): Ctrl-C then
        # arrives as a plain KeyboardInterrupt.
        await anyio.sleep_forever()


def interruptible(job: Callable[[], Awaitable[T]]) -> T:
    """Run ``job`` on an event loop; Ctrl-C or SIGTERM cancels it in order.

    The signals are taken inside the loop rather than as an exception that may land
    anywhere, so that every cleanup (temporary files, connections) runs, on every Python
    version; then Ctrl-C raises ``KeyboardInterrupt`` and SIGTERM ``Terminated``. A signal
    wins over the error the job then fails with, if any.
    """
    outcome: list[T] = []
    received: list[int] = []

    async def main() -> None:
        job_scope = anyio.CancelScope()
        async with FirstErrorGroup(body_order=1) as group:
            watching = anyio.CancelScope()

            async def watch() -> None:
                with watching:
                    await _watch_signals(job_scope, received)

            group.start_soon(watch, order=0)
            try:
                with job_scope:
                    outcome.append(await job())
            except Exception:
                if not received:
                    raise
            finally:
                watching.cancel()

    anyio.run(main)
    if received:
        raise KeyboardInterrupt if received[0] == signal.SIGINT else Terminated
    return outcome[0]


def run(
    settings: Settings, job: Callable[[AsyncVoipano], Awaitable[T]], *, charged: bool = False
) -> T:
    """Run ``job`` with a client; turn SDK errors into one clear line and exit status 1."""
    client = settings.client()

    async def main() -> T:
        async with client:
            return await job(client)

    try:
        return interruptible(main)
    except InvalidPhoneNumberError as exc:
        raise click.BadParameter(str(exc)) from None
    except VoipanoError as exc:
        line = f"{type(exc).__name__}: {exc}"
        if charged and not exc.may_have_been_placed:
            line = f"{_end_sentence(line)} The call was not placed."
        fail(line)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as command-line tools do.
        sys.stderr.close()
        sys.exit(141)
    except OSError as exc:
        fail(f"{type(exc).__name__}: {exc}")


def _end_sentence(text: str) -> str:
    """``text`` closed as a sentence, so that another sentence can follow it."""
    text = text.rstrip()
    if text.endswith((".", "!", "?", "\u061f", "\u2026")):  # ؟ is the Persian "?"
        return text
    return text.rstrip(",:;") + "."


def fault_kinds(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    """``--faults``: known fault names, comma-separated."""
    from voipano_async._config import SANDBOX_FAULTS

    kinds = [kind.strip() for kind in value.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in SANDBOX_FAULTS]
    if unknown or not kinds:
        known = ", ".join(SANDBOX_FAULTS)
        raise click.BadParameter(f"{', '.join(unknown) or 'none given'}: the faults are {known}")
    return kinds


def serve(
    host: str,
    port: int,
    *,
    token: str,
    reports: int,
    seed: int,
    dialect: str,
    credit: int = 10_000,
    latency: float = 0.0,
    rate_limit: float | None = None,
    fault_rate: float = 0.0,
    fault_kinds: list[str] | None = None,
    ready: Callable[[str], None],
) -> None:
    """Serve a sandbox over HTTP until Ctrl-C; ``ready`` gets the base URL."""
    from voipano_async.testing import VoipanoSandbox

    sandbox = VoipanoSandbox(
        token=token,
        reports=reports,
        seed=seed,
        dialect=dialect,
        credit=credit,
        rate_limit=rate_limit,
    )
    sandbox.latency = latency
    if fault_rate:
        sandbox.faults.random(fault_rate, seed=seed, kinds=fault_kinds)

    async def main() -> None:
        async with sandbox.serve(host, port) as base_url:
            ready(base_url)
            await anyio.sleep_forever()

    try:
        interruptible(main)
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc}")


def open_dataset(path: Path) -> ReportDataset:
    """harvest's --db, opened and checked before any request: a usage error if unusable."""
    try:
        return ReportDataset(path)
    except (DatasetError, sqlite3.Error, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from None


def speaks_unicode(stream: object) -> bool:
    """Whether ``stream`` can write any text: its encoding is one of Unicode's."""
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return False
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def _never_fail_on_encoding() -> None:
    """Standard output and error in an encoding that cannot write Persian (a Windows
    redirect, ``PYTHONIOENCODING=latin-1``) write what they cannot as ``\\u06a9``
    escapes instead of failing the command halfway through its output."""
    for stream in (sys.stdout, sys.stderr):
        if not speaks_unicode(stream) and isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def invoke(command: click.Command, args: list[str] | None) -> NoReturn:
    """Run the command line: click's own handling, but Ctrl-C exits 130."""
    _never_fail_on_encoding()
    try:
        command.main(args=args, prog_name="voipano", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        stderr.print("interrupted", markup=False)
        sys.exit(130)
    except Terminated:
        stderr.print("terminated", markup=False)
        sys.exit(143)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(0)
