"""``voipano harvest``, ``reports export`` and ``recordings download`` resuming their walk
after a failed page, and the global options ``--rate-limit`` and ``--max-retries``, driven
through click's runner against the sandbox."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from click.testing import Result

from voipano_async.testing import Fault, VoipanoSandbox

from .test_cli import RECORDED, SEEDED, run

PAGES = 30  # 300 seeded reports, 10 a page


class PageFaults(VoipanoSandbox):
    """The sandbox, with faults for chosen pages of ``/call-reports``.

    The sandbox scripts faults by path; ``fail(page, *faults)`` queues them as that page's
    request arrives. Walks run with ``--concurrency 1``, so that no other page's request
    is in flight to take the fault first.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pages: dict[str, list[Fault]] = {}
        self._calls: dict[str, int] = {}

    def fail(self, page: int, *faults: Fault, new_calls: int = 0) -> None:
        """Fail ``page``'s next requests; ``new_calls`` reports arrive at the top as the
        first of them fails, pushing every report down."""
        self._pages.setdefault(str(page), []).extend(faults)
        self._calls[str(page)] = new_calls

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/call-reports"):
            page = dict(parse_qsl(scope["query_string"].decode())).get("page", "1")
            queued = self._pages.get(page)
            if queued:
                self.faults.script("/call-reports", queued.pop(0))
                for n in range(self._calls.pop(page, 0)):
                    cdr = f"{n:024x}"
                    self.reports.insert(
                        0, {**RECORDED[0], "id": cdr, "call_details_record_id": cdr}
                    )
        await super().__call__(scope, receive, send)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> PageFaults:
    """The sandbox that ``--sandbox`` will use, for tests that script it."""
    sandbox = PageFaults()
    monkeypatch.setattr("voipano_async.testing.VoipanoSandbox", lambda: sandbox)
    return sandbox


def walk(command: tuple[str, ...], *args: str, options: tuple[str, ...] = ()) -> Result:
    """A bulk command that fails a page at once (no retries), fetching one page at a time."""
    return run("--sandbox", "--max-retries", "0", *options, *command, "--concurrency", "1", *args)


def harvest(dest: Path, *args: str, options: tuple[str, ...] = ()) -> Result:
    return walk(("harvest", "--dest", str(dest)), *args, options=options)


def exported_ids(dest: Path) -> list[str]:
    text = (dest / "reports.jsonl").read_text("utf-8")
    return [json.loads(line)["id"] for line in text.splitlines()]


def page_requests(sandbox: VoipanoSandbox) -> Counter[int]:
    """How many times each page of the call reports was requested."""
    return Counter(int(r.query["page"]) for r in sandbox.requests if r.path == "/call-reports")


def resumptions(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("resuming from")]


# -- resuming a harvest ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.error(503), "ServerError: خطای داخلی سرور (HTTP 503, GET /call-reports?page=10)"),
        (Fault.html(), "ServerError: "),
        (Fault.rate_limited(0), "RateLimitError: "),
        (Fault.drop(), "APIConnectionError: connection dropped on GET /call-reports?page=10 "),
    ],
    ids=["503", "html", "429", "drop"],
)
def test_a_failed_page_resumes_the_harvest_where_it_stopped(
    sandbox: PageFaults, tmp_path: Path, fault: Fault, error: str
) -> None:
    sandbox.fail(10, fault)
    result = harvest(tmp_path)
    assert result.exit_code == 0, result.output
    [line] = resumptions(result.stderr)
    assert line.startswith(f"resuming from page 10 (1 of 3) after {error}")
    # Every report exactly once, in order; the pages written before were not fetched again.
    assert exported_ids(tmp_path) == [r["id"] for r in SEEDED.reports]
    assert page_requests(sandbox) == {page: 2 if page == 10 else 1 for page in range(1, 31)}
    assert f"reports     300 ({PAGES} pages)" in result.stderr
    assert len(list((tmp_path / "recordings").iterdir())) == len(RECORDED)


def test_pages_fetched_but_not_yet_written_are_fetched_again(
    sandbox: PageFaults, tmp_path: Path
) -> None:
    # Pages 2 to 9 are fetched together and handed on only once all have come: 2 to 4
    # came, 5 failed, so none of them was written and the walk resumes from page 2.
    sandbox.fail(5, Fault.drop())
    result = harvest(tmp_path)
    assert result.exit_code == 0, result.output
    [line] = resumptions(result.stderr)
    assert line.startswith(
        "resuming from page 2 (1 of 3) after APIConnectionError: connection dropped on "
        "GET /call-reports?page=5 "
    )
    assert exported_ids(tmp_path) == [r["id"] for r in SEEDED.reports]
    requested = page_requests(sandbox)
    assert requested[1] == 1
    assert [requested[page] for page in range(2, 6)] == [2, 2, 2, 2]
    assert all(requested[page] == 1 for page in range(6, 31))


def test_a_report_pushed_onto_the_resumed_page_is_written_once(
    sandbox: PageFaults, tmp_path: Path
) -> None:
    # Three calls arrive while page 10 fails: the last three reports of page 9, already
    # written, are pushed onto page 10, where the resumed walk meets them again.
    sandbox.fail(10, Fault.error(503), new_calls=3)
    result = harvest(tmp_path)
    assert result.exit_code == 0, result.output
    assert len(resumptions(result.stderr)) == 1
    assert exported_ids(tmp_path) == [r["id"] for r in SEEDED.reports]
    assert "reports     300 (31 pages)" in result.stderr


def test_the_resumptions_are_counted_across_the_walk(sandbox: PageFaults, tmp_path: Path) -> None:
    sandbox.fail(10, Fault.error(503))
    sandbox.fail(20, Fault.error(502))
    result = harvest(tmp_path, options=("--quiet",))
    assert result.exit_code == 0, result.output
    # Printed even with --quiet, which leaves out only the summary.
    assert [line.split(" after ")[0] for line in result.stderr.splitlines()] == [
        "resuming from page 10 (1 of 3)",
        "resuming from page 19 (2 of 3)",  # pages 19 to 26 were one fetch
    ]
    assert exported_ids(tmp_path) == [r["id"] for r in SEEDED.reports]


@pytest.mark.parametrize(("args", "limit"), [((), 3), (("--resumes", "1"), 1)])
def test_once_the_resumptions_are_used_up_the_harvest_fails(
    sandbox: PageFaults, tmp_path: Path, args: tuple[str, ...], limit: int
) -> None:
    (tmp_path / "reports.jsonl").write_text("the previous export\n")
    sandbox.fail(10, *[Fault.error(503)] * (limit + 1))
    result = harvest(tmp_path, *args)
    assert result.exit_code == 1
    assert [line.split(" after ")[0] for line in resumptions(result.stderr)] == [
        f"resuming from page 10 ({n} of {limit})" for n in range(1, limit + 1)
    ]
    assert result.stderr.splitlines()[-1] == (
        "error: ServerError: خطای داخلی سرور (HTTP 503, GET /call-reports?page=10)"
    )
    assert page_requests(sandbox)[10] == limit + 1
    # No export is written, as before; the recordings saved so far (complete files only)
    # stay for the next run. How many were saved before the walk failed is a race: the
    # directory is there only when one was, as a failed harvest leaves no empty one.
    assert (tmp_path / "reports.jsonl").read_text() == "the previous export\n"
    entries = sorted(p.name for p in tmp_path.iterdir())
    assert entries in (["recordings", "reports.jsonl"], ["reports.jsonl"])
    if "recordings" in entries:
        saved = list((tmp_path / "recordings").iterdir())
        assert saved
        assert all(p.suffix == ".wav" and not p.name.startswith(".") for p in saved)


def test_no_resumption_with_resumes_0(sandbox: PageFaults, tmp_path: Path) -> None:
    sandbox.fail(10, Fault.error(503))
    result = harvest(tmp_path / "h", "--resumes", "0")
    assert result.exit_code == 1
    assert resumptions(result.stderr) == []
    assert "error: ServerError: " in result.stderr
    assert not (tmp_path / "h" / "reports.jsonl").exists()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.error(401, {"ok": False, "message": "توکن نامعتبر است."}), "AuthenticationError"),
        (Fault.error(403, {"ok": False, "message": "دسترسی ندارید."}), "PermissionDeniedError"),
        (Fault.error(400, {"ok": False, "message": "درخواست نامعتبر"}), "BadRequestError"),
    ],
    ids=["401", "403", "400"],
)
def test_an_error_that_would_only_repeat_fails_the_harvest_at_once(
    sandbox: PageFaults, tmp_path: Path, fault: Fault, error: str
) -> None:
    sandbox.fail(10, fault)
    result = harvest(tmp_path / "h")
    assert result.exit_code == 1
    assert resumptions(result.stderr) == []
    assert result.stderr.splitlines()[-1].startswith(f"error: {error}: ")
    assert page_requests(sandbox) == dict.fromkeys(range(1, 11), 1)
    assert not (tmp_path / "h" / "reports.jsonl").exists()


def test_a_page_cut_off_in_transit_is_resumed(sandbox: PageFaults, tmp_path: Path) -> None:
    """A flaky link's half page is tried again, as a 5xx is (tests/test_flaky.py)."""
    sandbox.fail(10, Fault.truncated())
    result = harvest(tmp_path / "h")
    assert result.exit_code == 0, result.output
    assert [line.split(" after ")[0] for line in resumptions(result.stderr)] == [
        "resuming from page 10 (1 of 3)"
    ]
    assert len((tmp_path / "h" / "reports.jsonl").read_text().splitlines()) == 300


def test_the_sdk_retries_come_before_a_resumption(sandbox: PageFaults, tmp_path: Path) -> None:
    sandbox.fail(10, Fault.rate_limited(0), Fault.rate_limited(0))
    result = harvest(tmp_path, options=("--max-retries", "1"))
    assert result.exit_code == 0, result.output
    # The SDK's retry met the second 429; only then did the walk resume.
    assert [line.split(" after ")[0] for line in resumptions(result.stderr)] == [
        "resuming from page 10 (1 of 3)"
    ]
    assert page_requests(sandbox)[10] == 3


# -- resuming an export and a download ------------------------------------------------------


@pytest.mark.parametrize("to_stdout", [False, True], ids=["file", "stdout"])
def test_a_failed_page_resumes_the_export(
    sandbox: PageFaults, tmp_path: Path, to_stdout: bool
) -> None:
    sandbox.fail(10, Fault.error(503))
    out = tmp_path / "reports.jsonl"
    result = walk(("reports", "export"), "-o", "-" if to_stdout else str(out))
    assert result.exit_code == 0, result.output
    [line] = resumptions(result.stderr)
    assert line.startswith("resuming from page 10 (1 of 3) after ServerError: ")
    # On standard output too, the rows written before the failure are not written again.
    text = result.stdout if to_stdout else out.read_text("utf-8")
    assert [json.loads(row)["id"] for row in text.splitlines()] == [
        r["id"] for r in SEEDED.reports
    ]
    assert page_requests(sandbox) == {page: 2 if page == 10 else 1 for page in range(1, 31)}


def test_an_export_fails_once_its_resumptions_are_used_up(
    sandbox: PageFaults, tmp_path: Path
) -> None:
    sandbox.fail(10, *[Fault.error(503)] * 2)
    out = tmp_path / "reports.jsonl"
    result = walk(("reports", "export"), "-o", str(out), "--resumes", "1")
    assert result.exit_code == 1
    assert [line.split(" after ")[0] for line in resumptions(result.stderr)] == [
        "resuming from page 10 (1 of 1)"
    ]
    assert result.stderr.splitlines()[-1].startswith("error: ServerError: ")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no partial file either


def test_an_export_with_resumes_0_fails_at_once(sandbox: PageFaults, tmp_path: Path) -> None:
    sandbox.fail(10, Fault.error(503))
    out = tmp_path / "reports.jsonl"
    result = walk(("reports", "export"), "-o", str(out), "--resumes", "0")
    assert result.exit_code == 1
    assert resumptions(result.stderr) == []
    assert not out.exists()


def test_a_failed_page_resumes_the_recordings_download(
    sandbox: PageFaults, tmp_path: Path
) -> None:
    # The download walks only calls with a recording: 145 of them, 15 pages of 10.
    sandbox.fail(10, Fault.drop())
    result = walk(("recordings", "download"), "--dest", str(tmp_path))
    assert result.exit_code == 0, result.output
    [line] = resumptions(result.stderr)
    assert line.startswith("resuming from page 10 (1 of 3) after APIConnectionError: ")
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert len(saved) == len(RECORDED)
    assert f"recordings  {len(RECORDED)} downloaded, 0 already there" in result.stderr
    assert page_requests(sandbox) == {page: 2 if page == 10 else 1 for page in range(1, 16)}


def test_a_recordings_download_fails_once_its_resumptions_are_used_up(
    sandbox: PageFaults, tmp_path: Path
) -> None:
    sandbox.fail(5, Fault.error(503), Fault.error(503))
    result = walk(("recordings", "download"), "--dest", str(tmp_path / "r"), "--resumes", "1")
    assert result.exit_code == 1
    assert len(resumptions(result.stderr)) == 1
    assert result.stderr.splitlines()[-1].startswith("error: ServerError: ")
    assert page_requests(sandbox)[5] == 2


# -- --rate-limit and --max-retries -----------------------------------------------------------


@pytest.fixture
def client_options(sandbox: PageFaults, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The options each run gave the sandbox's client."""
    given: list[dict[str, Any]] = []
    make = sandbox.client

    def client(**options: Any) -> Any:
        given.append(options)
        return make(**options)

    monkeypatch.setattr(sandbox, "client", client)
    return given


@pytest.mark.parametrize(
    ("args", "env", "options"),
    [
        ((), {}, {"rate_limit": None}),
        (("--rate-limit", "2.5"), {}, {"rate_limit": 2.5}),
        (("--rate-limit", "5", "--max-retries", "0"), {}, {"rate_limit": 5.0, "max_retries": 0}),
        (
            (),
            {"VOIPANO_RATE_LIMIT": "0.5", "VOIPANO_MAX_RETRIES": "4"},
            {"rate_limit": 0.5, "max_retries": 4},
        ),
    ],
)
def test_the_global_options_reach_the_client(
    client_options: list[dict[str, Any]],
    args: tuple[str, ...],
    env: dict[str, str],
    options: dict[str, Any],
) -> None:
    result = run("--sandbox", *args, "services", env=env)
    assert result.exit_code == 0, result.output
    assert client_options == [options]


def test_the_rate_limit_spaces_the_requests(sandbox: PageFaults) -> None:
    # 6 pages at 4 a second: 4 at once (the burst), then one every quarter of a second.
    started = time.monotonic()
    result = run(
        "--sandbox", "--rate-limit", "4", "reports", "export", "--per-page", "50", "-o", "-"
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 300
    assert len(sandbox.requests) == 6
    assert elapsed >= 0.45


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc", ""])
def test_a_bad_rate_limit_is_a_usage_error(sandbox: PageFaults, value: str) -> None:
    result = run("--sandbox", "--rate-limit", value, "services")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '--rate-limit': {value!r} is not a rate: give a number "
        "of requests per second, more than 0, such as 5 or 0.5"
    )
    assert sandbox.requests == []


def test_a_bad_rate_limit_from_the_environment_says_so(sandbox: PageFaults) -> None:
    result = run("--sandbox", "services", env={"VOIPANO_RATE_LIMIT": "0"})
    assert result.exit_code == 2
    assert "'--rate-limit': VOIPANO_RATE_LIMIT='0' is not a rate" in result.stderr
    assert sandbox.requests == []


def test_a_bad_max_retries_is_a_usage_error(sandbox: PageFaults) -> None:
    result = run("--sandbox", "--max-retries", "-1", "services")
    assert result.exit_code == 2
    assert "Invalid value for '--max-retries'" in result.stderr
    assert sandbox.requests == []


def test_the_rate_limit_is_a_global_option(sandbox: PageFaults) -> None:
    result = run("--sandbox", "services", "--rate-limit", "5")
    assert result.exit_code == 2
    assert "voipano --sandbox --rate-limit 5 services" in result.stderr


def test_against_a_base_url_the_options_apply_too() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(
        "-vv",
        "--base-url",
        f"http://127.0.0.1:{port}/api",
        "--token",
        "cli-test-token",
        "--max-retries",
        "0",
        "--rate-limit",
        "100",
        "services",
    )
    assert result.exit_code == 1
    assert "attempt 1" in result.stderr
    assert "retrying" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: APIConnectionError: ")
