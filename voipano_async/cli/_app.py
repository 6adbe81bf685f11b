"""The ``voipano`` command line (click for the commands, rich for tables and progress)."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shlex
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import anyio
import attrs
import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from voipano_async import (
    AsyncVoipano,
    InvalidPhoneNumberError,
    VoipanoError,
    normalize_phone_number,
)
from voipano_async.testing import VoipanoSandbox

from ._jobs import AtomicWriter, Progress, Tally, WorkDirectory, human_bytes, walk

__all__ = ["cli", "main"]

T = TypeVar("T")

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@attrs.define
class Settings:
    token: str | None
    base_url: str | None
    sandbox: bool
    sandbox_latency: float
    verbose: int
    quiet: bool
    ca_bundle: str | None = None
    base_url_name: str = "--base-url"

    def client(self) -> AsyncVoipano:
        if self.sandbox:
            sandbox = VoipanoSandbox()
            sandbox.latency = self.sandbox_latency
            return sandbox.client()
        if not (self.token or "").strip():
            raise click.UsageError(
                "no API token: pass --token or set VOIPANO_TOKEN (or try --sandbox)"
            )
        try:
            return AsyncVoipano(self.token, base_url=self.base_url, verify=self._verify())
        except VoipanoError as exc:
            # The SDK names its argument; a command line user knows the option.
            message = re.sub(r"\bbase_url\b", self.base_url_name, str(exc), count=1)
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


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


class _Bars(Progress):
    """Progress bars on stderr; nothing at all when stderr is not a terminal or --quiet."""

    def __init__(self, *, quiet: bool, reports: bool, files: bool) -> None:
        self._progress = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=stderr,
            disable=quiet or not stderr.is_terminal,
            transient=False,
        )
        self._pages = self._reports = self._files = None
        if reports:
            self._pages = self._progress.add_task("pages", total=None, note="")
            self._reports = self._progress.add_task("reports", total=None, note="")
        if files:
            self._files = self._progress.add_task("recordings", total=None, note="")

    def __enter__(self) -> _Bars:
        # A disabled display is never started: rich before 15 still ends it with a blank
        # line on stderr, which --quiet must not print.
        if not self._progress.disable:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._progress.disable:
            self._progress.__exit__(None, None, None)

    def _set(self, task: TaskID | None, done: int, total: int | None, note: str = "") -> None:
        if task is not None:
            self._progress.update(task, completed=done, total=total, note=note)

    def pages(self, done: int, total: int, reports: int, total_reports: int) -> None:
        self._set(self._pages, done, max(done, total))
        self._set(self._reports, reports, max(reports, total_reports))

    def files(self, done: int, total: int, size: int) -> None:
        self._set(self._files, done, max(done, total), human_bytes(size))


def _fail(message: str, code: int = 1) -> NoReturn:
    stderr.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    sys.exit(code)


def _interruptible(job: Callable[[], Awaitable[T]]) -> T:
    """Run ``job`` on an event loop; Ctrl-C cancels it in order, then KeyboardInterrupt.

    SIGINT is taken as a signal inside the loop rather than as an exception that may
    land anywhere, so that every cleanup (temporary files, connections) runs, on every
    Python version.
    """
    interrupted = False
    outcome: list[T] = []
    failure: list[Exception] = []

    async def main() -> None:
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                nonlocal interrupted
                try:
                    with anyio.open_signal_receiver(signal.SIGINT) as signals:
                        async for _ in signals:
                            interrupted = True
                            tg.cancel_scope.cancel()
                            return
                except (NotImplementedError, ValueError, RuntimeError):
                    # No signal handling here (Windows, or not the main thread): Ctrl-C
                    # then arrives as a plain KeyboardInterrupt.
                    await anyio.sleep_forever()

            tg.start_soon(watch)
            try:
                outcome.append(await job())
            except Exception as exc:
                failure.append(exc)
            tg.cancel_scope.cancel()

    anyio.run(main)
    if interrupted:
        raise KeyboardInterrupt
    if failure:
        raise failure[0]
    return outcome[0]


def _run(
    settings: Settings, job: Callable[[AsyncVoipano], Awaitable[T]], *, charged: bool = False
) -> T:
    """Run ``job`` with a client; turn SDK errors into one clear line and exit status 1."""
    client = settings.client()

    async def main() -> T:
        async with client:
            return await job(client)

    try:
        return _interruptible(main)
    except InvalidPhoneNumberError as exc:
        raise click.BadParameter(str(exc)) from None
    except VoipanoError as exc:
        line = f"{type(exc).__name__}: {exc}"
        if charged and not exc.may_have_been_placed:
            line = f"{_end_sentence(line)} The call was not placed."
        _fail(line)
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as command-line tools do.
        sys.stderr.close()
        sys.exit(141)
    except OSError as exc:
        _fail(f"{type(exc).__name__}: {exc}")


def _end_sentence(text: str) -> str:
    """``text`` closed as a sentence, so that another sentence can follow it."""
    text = text.rstrip()
    if text.endswith((".", "!", "?", "\u061f", "\u2026")):  # ؟ is the Persian "?"
        return text
    return text.rstrip(",:;") + "."


def _phone(value: str, name: str) -> str:
    try:
        return normalize_phone_number(value)
    except InvalidPhoneNumberError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _not_a_directory(path: Path, found: Path) -> str:
    what = "it" if found == path else repr(str(found))
    kind = "a file, not a directory" if found.is_file() else "not a directory"
    return f"{what} is {kind}"


def _directory_problem(path: Path) -> str | None:
    """Why files cannot be saved into the directory ``path`` (created when missing)."""
    found = _nearest_existing(path)
    if not found.is_dir():
        return _not_a_directory(path, found)
    if not os.access(found, os.W_OK | os.X_OK):
        return "permission denied"
    return None


def _file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written as a file (a temporary file beside it, then renamed)."""
    if path.is_dir():
        return "it is a directory"
    if path.exists() and not path.is_file():
        # A pipe or a device is written in place.
        return None if os.access(path, os.W_OK) else "permission denied"
    found = _nearest_existing(path.parent)
    if not found.is_dir():
        return _not_a_directory(path, found)
    if found != path.parent:
        return f"the directory {str(path.parent)!r} does not exist"
    if not os.access(found, os.W_OK | os.X_OK):
        return "permission denied"
    return None


def _usable(path: Path, problem: Callable[[Path], str | None], *option: str) -> None:
    """A usage error (status 2, before any request) when the command cannot write ``path``."""
    reason = problem(path)
    if reason is not None:
        raise click.BadParameter(
            f"cannot write to {str(path)!r}: {reason}", param_hint=list(option)
        )


def _pairs(rows: list[tuple[str, Any]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        stdout.print(f"{name.ljust(width)}  {'' if value is None else value}", markup=False)


def _billing_rows(result: Any) -> list[tuple[str, Any]]:
    billing = result.billing
    return [
        ("charged", billing.charged),
        ("unit_price", billing.unit_price),
        ("remaining_credit", billing.remaining_credit),
    ]


pass_settings = click.make_pass_decorator(Settings)

_GIVEN = "voipano.given"  # ctx.meta key: the arguments, split before the command


class _Voipano(click.Group):
    """The ``voipano`` group: a global option given after the command gets a corrected
    command line, not only "No such option"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)
        after = super().parse_args(ctx, args)  # what follows the command's name
        start = len(given) - len(after) - 1
        ctx.meta[_GIVEN] = (given[:start], given[start:])
        return after

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            hint = self._misplaced_global(ctx, exc)
            if hint is None:
                raise
            raise click.UsageError(hint, ctx=exc.ctx) from None

    def _misplaced_global(self, ctx: click.Context, exc: click.NoSuchOption) -> str | None:
        if exc.ctx is None or _GIVEN not in ctx.meta:
            return None
        own = {name for param in exc.ctx.command.params for name in param.opts}
        options = {
            name: param
            for param in self.params
            if isinstance(param, click.Option) and not param.hidden
            for name in (*param.opts, *param.secondary_opts)
            if name not in own
        }
        if exc.option_name not in options:
            return None
        before, after = ctx.meta[_GIVEN]
        moved: list[str] = []
        kept: list[str] = []
        tokens = iter(after)
        for token in tokens:
            long = token.startswith("--")
            name = token.partition("=")[0] if long else token
            cluster = [f"-{flag}" for flag in token[1:]] if token[:1] == "-" and not long else []
            if token == "--":
                kept += [token, *tokens]
            elif name in options:
                moved.append(token)
                if not _is_flag(options[name]) and "=" not in token:
                    moved += [next(tokens, "")]
            elif cluster and all(c in options and _is_flag(options[c]) for c in cluster):
                moved.append(token)  # -vv, -qv
            else:
                kept.append(token)
        secret = {name for param in self.params if param.name == "token" for name in param.opts}
        example = _masked([*before, *moved, *kept], secret)
        prog = ctx.find_root().info_name or "voipano"
        return (
            f"{exc.option_name} is a global option: global options go before the "
            f"command, as in\n\n    {prog} {example}"
        )


def _is_flag(option: click.Option) -> bool:
    return option.is_flag or option.count


def _masked(tokens: Sequence[str], secret: set[str]) -> str:
    """A command line for display, the API token replaced: a token is never printed."""
    shown: list[str] = []
    hide = False
    for token in tokens:
        name, equals, _ = token.partition("=")
        if hide:
            shown.append("TOKEN")
        elif name in secret and equals:
            shown.append(f"{name}=TOKEN")
        else:
            shown.append(shlex.quote(token))
        hide = not hide and token in secret  # the next token is the option's value
    return " ".join(shown)


@click.group(
    name="voipano",
    cls=_Voipano,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--token", envvar="VOIPANO_TOKEN", help="API token [env: VOIPANO_TOKEN].")
@click.option(
    "--base-url", envvar="VOIPANO_BASE_URL", help="API base URL [env: VOIPANO_BASE_URL]."
)
@click.option(
    "--sandbox",
    is_flag=True,
    help="Use an in-process sandbox with seeded data instead of the real service.",
)
@click.option(
    "--ca-bundle",
    envvar="VOIPANO_CA_BUNDLE",
    type=click.Path(exists=True, readable=True),
    help="Trust the CA certificates in this PEM file or directory instead of the system's "
    "(a TLS-inspecting proxy's CA, say) [env: VOIPANO_CA_BUNDLE].",
)
@click.option("--sandbox-latency", type=float, default=0.0, hidden=True)
@click.option("-v", "--verbose", count=True, help="Log each request (-vv: and retries).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summaries.")
@click.version_option(package_name="voipano-async", prog_name="voipano")
@click.pass_context
def cli(
    ctx: click.Context,
    token: str | None,
    base_url: str | None,
    sandbox: bool,
    ca_bundle: str | None,
    sandbox_latency: float,
    verbose: int,
    quiet: bool,
) -> None:
    """voipano: the Voipano webservice from the command line.

    Data goes to standard output or files; progress and messages go to standard error.
    Exit status: 0 on success, 1 on an API or network error, 2 on a usage error, 130 when
    interrupted.
    """
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger("voipano_async")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
    from_env = ctx.get_parameter_source("base_url") is click.core.ParameterSource.ENVIRONMENT
    ctx.obj = Settings(
        token,
        base_url,
        sandbox,
        sandbox_latency,
        verbose,
        quiet,
        ca_bundle,
        base_url_name="VOIPANO_BASE_URL" if from_env else "--base-url",
    )


@cli.command()
@pass_settings
def services(settings: Settings) -> None:
    """List the account's services."""
    result = _run(settings, lambda client: client.services())
    table = Table("subscription", "status", "days left", "package", "phone number")
    for item in result.items:
        package = item.package.name if item.package else ""
        table.add_row(
            str(item.subscription_id),
            item.status or "",
            "" if item.remaining_days is None else str(item.remaining_days),
            package or "",
            item.phone_number or "",
        )
    stdout.print(table)


@cli.command()
@click.option("--context", help="Only the inboxes of this voicemail context.")
@pass_settings
def inboxes(settings: Settings, context: str | None) -> None:
    """List voicemail inboxes, with the mailbox and context that voicemail download takes.

    The API lists inboxes, not the messages in them: a message's id for voicemail
    download is not shown here.
    """
    result = _run(settings, lambda client: client.voicemail_inboxes(context=context))
    table = Table("id", "mailbox", "context", "name")
    for item in result.items:
        table.add_row(item.id, item.mailbox, item.context, item.fullname or "")
    stdout.print(table)
    stdout.print(f"allowed contexts: {', '.join(result.allowed_contexts)}", markup=False)


@cli.command()
@click.argument("phone")
@click.option("--purpose", help='What the code is for, e.g. "login".')
@click.option("--ref", "client_ref", help="Your own reference for the request.")
@pass_settings
def otp(settings: Settings, phone: str, purpose: str | None, client_ref: str | None) -> None:
    """Send a voice verification code to PHONE (charged)."""
    number = _phone(phone, "PHONE")
    result = _run(
        settings,
        lambda client: client.call_otp(number, purpose=purpose, client_ref=client_ref),
        charged=True,
    )
    _pairs(
        [
            ("request_id", result.request_id),
            ("phone_number", result.phone_number),
            ("purpose", result.purpose),
            ("message", result.message),
            *_billing_rows(result),
        ]
    )


@cli.command()
@click.argument("source")
@click.argument("destination")
@click.option("--secure", is_flag=True, help="A secure call: neither side sees the other.")
@click.option("--timeout", type=click.IntRange(min=1), help="Ring time in seconds (API field).")
@click.option("--limit", type=click.IntRange(min=1), help="Longest call in seconds (API field).")
@pass_settings
def call(
    settings: Settings,
    source: str,
    destination: str,
    secure: bool,
    timeout: int | None,
    limit: int | None,
) -> None:
    """Connect SOURCE to DESTINATION (click-to-call, or --secure; charged)."""
    src, dst = _phone(source, "SOURCE"), _phone(destination, "DESTINATION")

    async def place(client: AsyncVoipano) -> Any:
        method = client.secure_call if secure else client.click_to_call
        return await method(src, dst, timeout=timeout, limit=limit)

    result = _run(settings, place, charged=True)
    provider = result.provider
    _pairs(
        [
            ("request_id", result.request_id),
            ("endpoint_number", result.endpoint_number),
            ("status", result.status),
            (
                "provider",
                None
                if provider is None
                else f"success={provider.success} status={provider.status}",
            ),
            *_billing_rows(result),
        ]
    )


@cli.group()
def reports() -> None:
    """Call reports."""


@reports.command("export")
@click.option("--has-recording", is_flag=True, help="Only calls with a recording.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one JSON object per line, every field kept; csv: a header row, then one "
    "row per report.",
)
@click.option(
    "--output",
    "-o",
    default="-",
    show_default=True,
    help="A file (in a directory that exists), or - for standard output.",
)
@click.option("--per-page", type=click.IntRange(min=1), help="Reports per request.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Pages fetched at once.",
)
@pass_settings
def export(
    settings: Settings,
    has_recording: bool,
    fmt: str,
    output: str,
    per_page: int | None,
    concurrency: int,
) -> None:
    """Export every call report (JSON Lines or CSV), written atomically."""
    path = None if output == "-" else Path(output)
    if path is not None:
        _usable(path, _file_problem, "-o", "--output")

    tally = _walk_job(
        settings,
        export=path,
        fmt=fmt,
        has_recording=True if has_recording else None,
        per_page=per_page,
        concurrency=concurrency,
        downloads=None,
    )
    if not settings.quiet:
        where = "standard output" if path is None else str(path)
        stderr.print(
            f"{tally.reports} reports ({tally.pages} pages) to {where} in {tally.elapsed:.1f} s",
            markup=False,
        )


@cli.group()
def recordings() -> None:
    """Call recordings."""


@recordings.command("download")
@click.option(
    "--dest",
    type=click.Path(path_type=Path),
    metavar="DIRECTORY",
    default=Path("recordings"),
    show_default=True,
    help="The directory to save into (created if missing).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Downloads (and page fetches) at once.",
)
@pass_settings
def download_recordings(settings: Settings, dest: Path, concurrency: int) -> None:
    """Download every call recording into DEST; files already there are skipped."""
    _usable(dest, _directory_problem, "--dest")
    tally = _walk_job(
        settings,
        export=None,
        fmt="jsonl",
        has_recording=True,
        per_page=None,
        concurrency=concurrency,
        downloads=dest,
    )
    _finish(settings, tally, dest=dest, export=None)


@cli.command()
@click.option(
    "--dest",
    type=click.Path(path_type=Path),
    metavar="DIRECTORY",
    default=Path("harvest"),
    show_default=True,
    help="The directory for reports.jsonl and recordings/ (created if missing).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Downloads (and page fetches) at once.",
)
@click.option("--per-page", type=click.IntRange(min=1), help="Reports per request.")
@pass_settings
def harvest(settings: Settings, dest: Path, concurrency: int, per_page: int | None) -> None:
    """Export every report to DEST/reports.jsonl and every recording to DEST/recordings/.

    Resumable: recordings already downloaded are skipped, and the export is replaced
    only once it is complete.
    """
    export_path = dest / "reports.jsonl"
    _usable(dest, _directory_problem, "--dest")
    if dest.is_dir():
        _usable(export_path, _file_problem, "--dest")
        _usable(dest / "recordings", _directory_problem, "--dest")
    tally = _walk_job(
        settings,
        export=export_path,
        fmt="jsonl",
        has_recording=None,
        per_page=per_page,
        concurrency=concurrency,
        downloads=dest / "recordings",
    )
    _finish(settings, tally, dest=dest / "recordings", export=export_path)


def _walk_job(
    settings: Settings,
    *,
    export: Path | None,
    fmt: str,
    has_recording: bool | None,
    per_page: int | None,
    concurrency: int,
    downloads: Path | None,
) -> Tally:
    """One walk over the reports: export them (to ``export``, or stdout when ``None`` and
    there are no downloads), download their recordings (into ``downloads``), or both."""
    exporting = export is not None or downloads is None

    async def job(client: AsyncVoipano) -> Tally:
        folder = None if export is None else WorkDirectory(export.parent)
        writer = None
        try:
            if folder is not None:
                await folder.make()
            writer = AtomicWriter(export, fmt) if exporting else None
            bars = _Bars(quiet=settings.quiet, reports=exporting, files=downloads is not None)
            with bars:
                tally = await walk(
                    client,
                    has_recording=has_recording,
                    per_page=per_page,
                    concurrency=concurrency,
                    writer=writer,
                    downloads=downloads,
                    progress=bars,
                )
            if writer is not None:
                await writer.commit()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        finally:
            if folder is not None:
                folder.remove_if_empty()
        return tally

    return _run(settings, job)


def _finish(settings: Settings, tally: Tally, *, dest: Path, export: Path | None) -> None:
    """The summary on stderr, the failures listed, and the exit status."""
    if not settings.quiet:
        lines = []
        if export is not None:
            lines.append(f"reports     {tally.reports} ({tally.pages} pages) -> {export}")
        lines += [
            f"recordings  {tally.downloaded} downloaded, {tally.skipped} already there -> {dest}",
            f"bytes       {human_bytes(tally.bytes)}",
            f"failures    {len(tally.failures)}",
            f"time        {tally.elapsed:.1f} s",
        ]
        for line in lines:
            stderr.print(line, markup=False)
    for cdr, message in tally.failures:
        stderr.print(f"failed: {cdr}: {message}", markup=False)
    if tally.failures:
        sys.exit(1)


@cli.group()
def voicemail() -> None:
    """Voicemail messages."""


@voicemail.command("download")
@click.argument("unique_id")
@click.option(
    "--context", required=True, help="The voicemail context (the context column of inboxes)."
)
@click.option("--mailbox", required=True, help="The mailbox (the mailbox column of inboxes).")
@click.option(
    "--dest",
    default=".",
    show_default=True,
    help="A directory (created when it ends in /), or a file path in a directory that exists.",
)
@pass_settings
def download_voicemail(
    settings: Settings, unique_id: str, context: str, mailbox: str, dest: str
) -> None:
    """Download the voicemail message UNIQUE_ID and print the path it was saved to.

    UNIQUE_ID is the message's own id, such as 1739558127.155, not the inbox id that
    voipano inboxes shows. The webservice has no request that lists voicemail messages,
    so no command can show these ids: they have to come from outside the API. voipano
    inboxes lists the values for --context and --mailbox.
    """
    target = Path(dest)
    if dest.endswith(("/", os.sep)) or target.is_dir():
        _usable(target, _directory_problem, "--dest")
    else:
        _usable(target, _file_problem, "--dest")
    path = _run(
        settings,
        lambda client: client.download_voicemail_recording(
            unique_id, dest, context=context, mailbox=mailbox
        ),
    )
    stdout.print(str(path), markup=False)


@cli.command("sandbox")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on; 0.0.0.0 (or ::) listens on every interface.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="The port to listen on; 0 picks a free one.",
)
@click.option(
    "--reports",
    "report_count",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="How many call reports to seed.",
)
@click.option(
    "--token",
    "sandbox_token",
    default="sandbox-token",
    show_default=True,
    help="The only API token the sandbox accepts.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seeds every generated id, number and report: the same seed, the same data.",
)
def serve_sandbox(host: str, port: int, report_count: int, sandbox_token: str, seed: int) -> None:
    """Serve the sandbox over HTTP until interrupted (a local stand-in for the service).

    The base URL to give --base-url is printed on standard output. The global options
    do not apply to this command.
    """
    sandbox = VoipanoSandbox(token=sandbox_token, reports=report_count, seed=seed)

    async def main() -> None:
        async with sandbox.serve(host, port) as base_url:
            stdout.print(_client_url(base_url, host), markup=False)
            stderr.print(
                f"Serving the Voipano sandbox (token {sandbox_token!r}). Ctrl-C to stop.",
                markup=False,
            )
            await anyio.sleep_forever()

    try:
        _interruptible(main)
    except OSError as exc:
        _fail(f"cannot serve on {host}:{port}: {exc}")


def _client_url(base_url: str, host: str) -> str:
    """The served base URL as a client can use it: 0.0.0.0 or :: (every interface) are
    addresses to listen on, not to connect to, so they become 127.0.0.1 or [::1]."""
    try:
        address = ipaddress.ip_address(host or "0.0.0.0")
    except ValueError:
        return base_url  # a host name
    if not address.is_unspecified:
        return base_url
    loopback = "127.0.0.1" if address.version == 4 else "[::1]"
    parts = urlsplit(base_url)
    return parts._replace(netloc=f"{loopback}:{parts.port}").geturl()


def main(args: list[str] | None = None) -> NoReturn:
    """The ``voipano`` entry point: click's own handling, but Ctrl-C exits 130."""
    try:
        cli.main(args=args, prog_name="voipano", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        stderr.print("interrupted", markup=False)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(0)
