"""The ``voipano`` commands (click): each parses its options, runs its job, renders.

Running a job (the event loop, Ctrl-C, errors and exit statuses) is in ``_runtime``,
what is printed in ``_render``, the checks of output paths in ``_paths``, the options
several commands share in ``_options``, the bulk jobs in ``_jobs``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from voipano_async._config import SANDBOX_FAULTS as FAULT_NAMES

from . import _render as render
from . import _runtime as runtime
from ._group import VoipanoGroup
from ._jobs import Tally, Walk, walk
from ._options import concurrency_option, dest_option, dialect_option, resumes_option
from ._paths import check_directory, check_file, check_harvest, check_voicemail_dest

if TYPE_CHECKING:
    from voipano_async import AsyncVoipano, CallResult

__all__ = ["cli", "main"]

pass_settings = click.make_pass_decorator(runtime.Settings)


@click.group(
    name="voipano",
    cls=VoipanoGroup,
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
    "--allow-http",
    is_flag=True,
    envvar="VOIPANO_ALLOW_HTTP",
    help="Allow a plain http:// --base-url on a host other than this machine (a sandbox "
    "container in CI). The token crosses the network unencrypted: test networks only.",
)
@click.option(
    "--ca-bundle",
    envvar="VOIPANO_CA_BUNDLE",
    type=click.Path(exists=True, readable=True),
    help="Trust the CA certificates in this PEM file or directory instead of the system's "
    "(a TLS-inspecting proxy's CA, say) [env: VOIPANO_CA_BUNDLE].",
)
@click.option(
    "--max-retries",
    envvar="VOIPANO_MAX_RETRIES",
    type=click.IntRange(min=0),
    help="Retries of a request that failed on the network, a 429 or a 5xx (default 2; "
    "0: none) [env: VOIPANO_MAX_RETRIES].",
)
@click.option(
    "--rate-limit",
    envvar="VOIPANO_RATE_LIMIT",
    callback=runtime.rate,
    metavar="N",
    help="At most N requests a second, retries included; 0.5 is one every 2 s "
    "(default: no limit) [env: VOIPANO_RATE_LIMIT].",
)
@dialect_option("--sandbox-dialect", "How the --sandbox answers")
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
    allow_http: bool,
    ca_bundle: str | None,
    max_retries: int | None,
    rate_limit: float | None,
    sandbox_dialect: str,
    sandbox_latency: float,
    verbose: int,
    quiet: bool,
) -> None:
    """voipano: the Voipano webservice from the command line.

    Data goes to standard output or files; progress and messages go to standard error.
    Exit status: 0 on success, 1 on an API or network error, 2 on a usage error, 130 when
    interrupted.
    """
    runtime.log_requests(verbose)
    runtime.show_drift(quiet)
    from_env = ctx.get_parameter_source("base_url") is click.core.ParameterSource.ENVIRONMENT
    ctx.obj = runtime.Settings(
        token,
        base_url,
        sandbox,
        sandbox_latency,
        verbose,
        quiet,
        ca_bundle,
        base_url_name="VOIPANO_BASE_URL" if from_env else "--base-url",
        max_retries=max_retries,
        rate_limit=rate_limit,
        sandbox_dialect=sandbox_dialect,
        allow_http=allow_http,
    )


@cli.command()
@pass_settings
def services(settings: runtime.Settings) -> None:
    """List the account's services."""
    render.services(runtime.run(settings, lambda client: client.services()))


@cli.command()
@click.option("--context", help="Only the inboxes of this voicemail context.")
@pass_settings
def inboxes(settings: runtime.Settings, context: str | None) -> None:
    """List voicemail inboxes, with the mailbox and context that voicemail download takes.

    The API lists inboxes, not the messages in them: a message's id for voicemail
    download is not shown here.
    """
    render.inboxes(runtime.run(settings, lambda client: client.voicemail_inboxes(context=context)))


@cli.command()
@click.argument("phone")
@click.option("--purpose", help='What the code is for, e.g. "login".')
@click.option("--ref", "client_ref", help="Your own reference for the request.")
@pass_settings
def otp(
    settings: runtime.Settings, phone: str, purpose: str | None, client_ref: str | None
) -> None:
    """Send a voice verification code to PHONE (charged)."""
    number = runtime.phone(phone, "PHONE")
    result = runtime.run(
        settings,
        lambda client: client.call_otp(number, purpose=purpose, client_ref=client_ref),
        charged=True,
    )
    render.otp_result(result)


@cli.command()
@click.argument("source")
@click.argument("destination")
@click.option("--secure", is_flag=True, help="A secure call: neither side sees the other.")
@click.option("--timeout", type=click.IntRange(min=1), help="Ring time in seconds (API field).")
@click.option("--limit", type=click.IntRange(min=1), help="Longest call in seconds (API field).")
@pass_settings
def call(
    settings: runtime.Settings,
    source: str,
    destination: str,
    secure: bool,
    timeout: int | None,
    limit: int | None,
) -> None:
    """Connect SOURCE to DESTINATION (click-to-call, or --secure; charged)."""
    src, dst = runtime.phone(source, "SOURCE"), runtime.phone(destination, "DESTINATION")

    async def place(client: AsyncVoipano) -> CallResult:
        method = client.secure_call if secure else client.click_to_call
        return await method(src, dst, timeout=timeout, limit=limit)

    render.call_result(runtime.run(settings, place, charged=True))


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
@concurrency_option("Pages fetched at once.")
@resumes_option
@pass_settings
def export(
    settings: runtime.Settings,
    has_recording: bool,
    fmt: str,
    output: str,
    per_page: int | None,
    concurrency: int,
    resumes: int,
) -> None:
    """Export every call report (JSON Lines or CSV), written atomically."""
    path = None if output == "-" else Path(output)
    if path is not None:
        check_file(path, "-o", "--output")
    spec = Walk(
        rows=render.ReportRows(
            fmt, ascii_json=path is None and not runtime.speaks_unicode(sys.stdout)
        ),
        export=path,
        has_recording=True if has_recording else None,
        per_page=per_page,
        concurrency=concurrency,
        resumes=resumes,
    )
    render.export_summary(_walk(settings, spec), path, quiet=settings.quiet)


@cli.group()
def recordings() -> None:
    """Call recordings."""


@recordings.command("download")
@dest_option("recordings", "The directory to save into (created if missing).")
@concurrency_option("Downloads (and page fetches) at once.")
@resumes_option
@pass_settings
def download_recordings(
    settings: runtime.Settings, dest: Path, concurrency: int, resumes: int
) -> None:
    """Download every call recording into DEST; files already there are skipped."""
    check_directory(dest, "--dest")
    spec = Walk(downloads=dest, has_recording=True, concurrency=concurrency, resumes=resumes)
    tally = _walk(settings, spec)
    render.walk_summary(tally, dest=dest, export=None, quiet=settings.quiet)
    runtime.exit_on_failures(tally.failures)


@cli.command()
@dest_option("harvest", "The directory for reports.jsonl and recordings/ (created if missing).")
@concurrency_option("Downloads (and page fetches) at once.")
@click.option("--per-page", type=click.IntRange(min=1), help="Reports per request.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Merge every report into this SQLite dataset (created if missing) instead of "
    "writing DEST/reports.jsonl: one row per report, new/changed/unchanged counted, an "
    "interrupted run resumed where it stopped, recordings it holds not downloaded again.",
)
@resumes_option
@pass_settings
def harvest(
    settings: runtime.Settings,
    dest: Path,
    concurrency: int,
    per_page: int | None,
    db: Path | None,
    resumes: int,
) -> None:
    """Export every report to DEST/reports.jsonl and every recording to DEST/recordings/.

    Resumable: recordings already downloaded are skipped, and the export is replaced
    only once it is complete. A page that fails on the network, a 429 or a 5xx does not
    end the walk: it resumes from the first page not yet written (--resumes times).
    With --db, the reports go into a SQLite dataset that every run keeps current.
    """
    export, saved = dest / "reports.jsonl", dest / "recordings"
    check_harvest(dest, export, saved)
    dataset = None if db is None else runtime.open_dataset(db)
    spec = Walk(
        rows=None if dataset is not None else render.ReportRows("jsonl"),
        export=None if dataset is not None else export,
        downloads=saved,
        per_page=per_page,
        concurrency=concurrency,
        resumes=resumes,
        dataset=dataset,
    )
    try:
        tally = _walk(settings, spec)
    finally:
        if dataset is not None:
            dataset.close()
    render.walk_summary(
        tally, dest=saved, export=export if dataset is None else None, quiet=settings.quiet
    )
    runtime.exit_on_failures(tally.failures)


def _walk(settings: runtime.Settings, spec: Walk) -> Tally:
    """One walk over the reports, with progress bars for what it does."""
    bars = render.Bars(
        quiet=settings.quiet, reports=spec.rows is not None, files=spec.downloads is not None
    )
    return runtime.run(settings, lambda client: walk(client, spec, bars))


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
    settings: runtime.Settings, unique_id: str, context: str, mailbox: str, dest: str
) -> None:
    """Download the voicemail message UNIQUE_ID and print the path it was saved to.

    UNIQUE_ID is the message's own id, such as 1739558127.155, not the inbox id that
    voipano inboxes shows. The webservice has no request that lists voicemail messages,
    so no command can show these ids: they have to come from outside the API. voipano
    inboxes lists the values for --context and --mailbox.
    """
    check_voicemail_dest(dest)
    path = runtime.run(
        settings,
        lambda client: client.download_voicemail_recording(
            unique_id, dest, context=context, mailbox=mailbox
        ),
    )
    render.saved(path)


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
@dialect_option("--dialect", "How it answers")
@click.option(
    "--credit",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    help="The starting credit (a call-otp costs 160); 402 once it does not cover a price.",
)
@click.option(
    "--latency",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds every answer waits before it is sent.",
)
@click.option(
    "--rate-limit",
    "sandbox_rate_limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Requests a second allowed before 429 (default: no limit).",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="The fraction of requests given a random fault, chosen by --seed.",
)
@click.option(
    "--faults",
    "fault_kinds",
    default=",".join(FAULT_NAMES),
    show_default=True,
    metavar="KINDS",
    callback=runtime.fault_kinds,
    help="The faults --fault-rate picks from, comma-separated.",
)
def serve_sandbox(
    host: str,
    port: int,
    report_count: int,
    sandbox_token: str,
    seed: int,
    dialect: str,
    credit: int,
    latency: float,
    sandbox_rate_limit: float | None,
    fault_rate: float,
    fault_kinds: list[str],
) -> None:
    """Serve the sandbox over HTTP until interrupted (a local stand-in for the service).

    The base URL to give --base-url is printed on standard output. The global options
    do not apply to this command.
    """
    runtime.serve(
        host,
        port,
        token=sandbox_token,
        reports=report_count,
        seed=seed,
        dialect=dialect,
        credit=credit,
        latency=latency,
        rate_limit=sandbox_rate_limit,
        fault_rate=fault_rate,
        fault_kinds=fault_kinds,
        ready=lambda url: render.serving(url, host, sandbox_token),
    )


def main(args: list[str] | None = None) -> NoReturn:
    """The ``voipano`` entry point: click's own handling, but Ctrl-C exits 130."""
    runtime.invoke(cli, args)
