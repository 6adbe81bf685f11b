"""Recordings stream to disk under safe names, and a failed download leaves nothing."""

from __future__ import annotations

import errno
import gzip
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest
import respx

from voipano_async import (
    APIConnectionError,
    APIError,
    AsyncVoipano,
    CallReport,
    NotFoundError,
    UnexpectedResponseError,
)
from voipano_async._streams import safe_filename

from . import samples
from .conftest import FAST, TOKEN

pytestmark = pytest.mark.anyio

CDR = "67bc8ea2f8f8a7d1287995f1"
AUDIO = b"RIFF" + bytes(range(256)) * 4096  # about 1 MiB


class Broken(httpx2.AsyncByteStream):
    """A body that sends ``good`` bytes, then the connection drops."""

    def __init__(self, good: bytes) -> None:
        self.good = good

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.good), 65536):
            yield self.good[start : start + 65536]
        raise httpx2.ReadError("connection reset by peer")


class FileServer:
    """A file server for one recording, as respx's side effect.

    Each answer breaks off after the next count in ``breaks`` (none left: it is whole).
    With ``ranges`` it honours ``Range: bytes=N-`` (and ``If-Range``) as a file server
    does; without, it sends the whole file every time. ``changed`` answers from the
    second request on with another file.
    """

    def __init__(
        self,
        audio: bytes,
        *,
        breaks: tuple[int, ...] = (),
        ranges: bool = True,
        headers: dict[str, str] | None = None,
        changed: bytes | None = None,
        offset_shift: int = 0,
    ) -> None:
        self.audio = audio
        self.breaks = list(breaks)
        self.ranges = ranges
        self.headers = {**samples.RECORDING_HEADERS, **(headers or {})}
        self.changed = changed
        self.offset_shift = offset_shift
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        audio = self.changed if self.changed is not None and len(self.requests) > 1 else self.audio
        status, body, headers = 200, audio, dict(self.headers)
        wanted = request.headers.get("range")
        version = self.headers.get("ETag") or self.headers.get("Last-Modified")
        fresh = request.headers.get("if-range", version) == version
        if self.ranges and wanted and fresh:
            start = int(wanted.removeprefix("bytes=").rstrip("-")) + self.offset_shift
            status, body = 206, audio[start:]
            headers["Content-Range"] = f"bytes {start}-{len(audio) - 1}/{len(audio)}"
        headers["Content-Length"] = str(len(body))
        if self.breaks:
            return httpx2.Response(
                status, headers=headers, stream=Broken(body[: self.breaks.pop(0)])
            )
        return httpx2.Response(status, headers=headers, content=body)


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_download_to_directory_uses_server_name(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    route = api.get(f"/call-recordings/{CDR}").respond(
        200, content=AUDIO, headers=samples.RECORDING_HEADERS
    )

    path = await client.download_call_recording(CDR, tmp_path)

    assert path == tmp_path / f"recording-{CDR}.wav"
    assert path.read_bytes() == AUDIO
    assert files_in(tmp_path) == [path.name]
    request = route.calls.last.request
    assert request.url.params["call_details_record_id"] == CDR
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_download_to_file_path(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    api.get(f"/call-recordings/{CDR}").respond(
        200, content=AUDIO, headers=samples.RECORDING_HEADERS
    )
    target = tmp_path / "mine.wav"
    target.write_bytes(b"old")

    path = await client.download_call_recording(CDR, str(target))

    assert path == target
    assert target.read_bytes() == AUDIO


async def test_download_accepts_a_call_report(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    report = CallReport(
        id="x",
        call_details_record_id=CDR,
        has_recording=True,
        recording_url=f"https://cdn.example.com/call-recordings/{CDR}",
    )
    route = api.get(f"/call-recordings/{CDR}").respond(
        200, content=AUDIO, headers=samples.RECORDING_HEADERS
    )

    path = await client.download_call_recording(report, tmp_path)

    assert path.read_bytes() == AUDIO
    # Fetched by id from the API host; the off-host recording_url is never followed.
    assert route.calls.last.request.url.host == "voipano.com"


async def test_voicemail_download(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    route = api.get("/voicemail-recordings/1739558127.155").respond(
        200, content=AUDIO, headers=samples.VOICEMAIL_HEADERS
    )

    path = await client.download_voicemail_recording(
        "1739558127.155", tmp_path, context="voicemail-02191010001", mailbox="1001"
    )

    assert path == tmp_path / "voicemail-1739558127.155.wav"
    assert path.read_bytes() == AUDIO
    assert dict(route.calls.last.request.url.params) == {
        "context": "voicemail-02191010001",
        "mailbox": "1001",
    }


async def test_stream_gives_metadata_and_chunks(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get(f"/call-recordings/{CDR}").respond(
        200, content=AUDIO, headers=samples.RECORDING_HEADERS
    )

    async with client.stream_call_recording(CDR) as audio:
        assert audio.filename == f"recording-{CDR}.wav"
        assert audio.content_type == "audio/wav"
        assert audio.charged == 0
        assert audio.content_length == len(AUDIO)
        received = [chunk async for chunk in audio.aiter_bytes()]

    assert b"".join(received) == AUDIO


async def test_stream_read(api: respx.MockRouter, client: AsyncVoipano) -> None:
    api.get("/voicemail-recordings/1739558127.155").respond(
        200, content=AUDIO, headers=samples.VOICEMAIL_HEADERS
    )
    stream = client.stream_voicemail_recording(
        "1739558127.155", context="voicemail-02191010001", mailbox="1001"
    )
    async with stream as audio:
        assert await audio.read() == AUDIO


async def test_missing_headers_fall_back_to_the_id(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    api.get(f"/call-recordings/{CDR}").respond(200, content=b"RIFF")
    async with client.stream_call_recording(CDR) as audio:
        assert audio.filename == f"recording-{CDR}.wav"
        assert audio.charged is None
        assert audio.content_type is None
        assert (await audio.save(tmp_path)).name == f"recording-{CDR}.wav"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('attachment; filename="../../x.wav"', "x.wav"),
        ('attachment; filename="/etc/passwd"', "passwd"),
        ('attachment; filename="..\\\\..\\\\evil.wav"', "evil.wav"),
        ('attachment; filename=".bashrc"', "bashrc"),
        ('attachment; filename=".."', "fallback.wav"),
        ('attachment; filename="a\tb.wav"', "a_b.wav"),
        ('attachment; filename="con|nul?.wav"', "con_nul_.wav"),
        ("attachment; filename*=UTF-8''%D8%B6%D8%A8%D8%B7.wav", "ضبط.wav"),
        ("attachment; filename*=UTF-8''..%2F..%2Fup.wav", "up.wav"),
        # Symfony's default: an ASCII stand-in, then the real name; RFC 6266 prefers it.
        ("attachment; filename=zbt.wav; filename*=UTF-8''%D8%B6%D8%A8%D8%B7.wav", "ضبط.wav"),
        ("attachment; filename*=UTF-8''%D8%B6%D8%A8%D8%B7.wav; filename=zbt.wav", "ضبط.wav"),
        ("attachment", "fallback.wav"),
        ("", "fallback.wav"),
        ("attachment; filename=", "fallback.wav"),
        ('attachment; filename="' + "a" * 500 + '.wav"', "a" * 196 + ".wav"),
        ('attachment; filename="CON.wav"', "_CON.wav"),
        ('attachment; filename="lpt1"', "_lpt1"),
    ],
)
def test_safe_filename(header: str, expected: str) -> None:
    assert safe_filename(header, "fallback.wav") == expected


async def test_hostile_name_stays_inside_the_directory(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    inside = tmp_path / "inside"
    inside.mkdir()
    api.get(f"/call-recordings/{CDR}").respond(
        200,
        content=AUDIO,
        headers={"Content-Disposition": 'attachment; filename="../../x.wav"'},
    )

    path = await client.download_call_recording(CDR, inside)

    assert path == inside / "x.wav"
    assert files_in(tmp_path) == ["inside"]
    assert files_in(inside) == ["x.wav"]


async def test_failure_halfway_leaves_no_file(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    # Every attempt breaks off: the policy's three for each download.
    server = FileServer(AUDIO, breaks=(3 * 65536,) * 6)
    api.get(f"/call-recordings/{CDR}").mock(side_effect=server)
    target = tmp_path / "keep.wav"
    target.write_bytes(b"the previous, complete file")

    with pytest.raises(APIConnectionError, match="broke off"):
        await client.download_call_recording(CDR, tmp_path)
    with pytest.raises(APIConnectionError):
        await client.download_call_recording(CDR, target)

    assert files_in(tmp_path) == ["keep.wav"]
    assert target.read_bytes() == b"the previous, complete file"
    assert len(server.requests) == 6


async def test_cancelled_download_leaves_no_file(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    started = anyio.Event()

    class Endless(httpx2.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            while True:
                yield b"\0" * 65536
                started.set()
                await anyio.lowlevel.checkpoint()

    api.get(f"/call-recordings/{CDR}").mock(
        return_value=httpx2.Response(200, headers=samples.RECORDING_HEADERS, stream=Endless())
    )

    async with anyio.create_task_group() as tg:
        tg.start_soon(client.download_call_recording, CDR, tmp_path)
        await started.wait()
        tg.cancel_scope.cancel()

    assert files_in(tmp_path) == []
    # The client is still usable afterwards.
    api.get("/services").respond(200, json=samples.SERVICES)
    assert (await client.services()).total == 1


async def test_not_found_recording(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    api.get("/call-recordings/nope").respond(404, json={"ok": False, "message": "یافت نشد"})
    with pytest.raises(NotFoundError, match="یافت نشد"):
        await client.download_call_recording("nope", tmp_path)
    assert files_in(tmp_path) == []


async def test_missing_directory_is_a_clear_error(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    api.get(f"/call-recordings/{CDR}").respond(200, content=AUDIO)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        await client.download_call_recording(CDR, tmp_path / "no" / "such.wav")


async def test_stream_context_cannot_be_entered_twice(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get(f"/call-recordings/{CDR}").respond(200, content=AUDIO)
    stream = client.stream_call_recording(CDR)
    async with stream:
        with pytest.raises(RuntimeError, match="already open"):
            await stream.__aenter__()


async def test_directory_with_trailing_slash_is_created(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    api.get(f"/call-recordings/{CDR}").respond(
        200, content=AUDIO, headers=samples.RECORDING_HEADERS
    )
    path = await client.download_call_recording(CDR, f"{tmp_path}/recordings/")
    assert path == tmp_path / "recordings" / f"recording-{CDR}.wav"
    assert path.read_bytes() == AUDIO


async def test_ok_false_instead_of_audio_is_an_api_error(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    api.get(f"/call-recordings/{CDR}").respond(
        200, json={"ok": False, "error": {"code": "not_ready", "message": "هنوز آماده نیست"}}
    )
    with pytest.raises(APIError, match="هنوز آماده نیست") as info:
        await client.download_call_recording(CDR, tmp_path)
    assert info.value.code == "not_ready"
    assert files_in(tmp_path) == []


async def test_other_json_instead_of_audio_is_unexpected(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    api.get(f"/call-recordings/{CDR}").respond(200, json={"ok": True, "data": {}})
    with pytest.raises(UnexpectedResponseError, match="expected audio"):
        await client.download_call_recording(CDR, tmp_path)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "content_type", "error", "said"),
    [
        (
            b"<html><head><title>Login</title></head><body>sign in</body></html>",
            "text/html; charset=UTF-8",
            UnexpectedResponseError,
            'expected audio but an HTML page answered, not the API: "Login"',
        ),
        (
            '{"ok": false, "message": "فایل نیست"}'.encode(),
            "text/html",
            APIError,
            "فایل نیست",
        ),
        (b'{"ok": true}', "application/problem+json", UnexpectedResponseError, "with JSON"),
    ],
)
async def test_a_page_is_never_saved_as_audio(
    api: respx.MockRouter,
    client: AsyncVoipano,
    tmp_path: Path,
    content: bytes,
    content_type: str,
    error: type[Exception],
    said: str,
) -> None:
    headers = {**samples.RECORDING_HEADERS, "Content-Type": content_type}
    api.get(f"/call-recordings/{CDR}").respond(200, content=content, headers=headers)
    with pytest.raises(error, match=said):
        await client.download_call_recording(CDR, tmp_path)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("sent", "charged"), [("0.00", 0), ("0.0", 0), ("80.00", 80), ("0.5", None)]
)
async def test_the_charge_header_is_read_as_a_decimal(
    api: respx.MockRouter, client: AsyncVoipano, sent: str, charged: int | None
) -> None:
    headers = {**samples.RECORDING_HEADERS, "X-Billing-Charged": sent}
    api.get(f"/call-recordings/{CDR}").respond(200, content=AUDIO, headers=headers)
    async with client.stream_call_recording(CDR) as audio:
        assert audio.charged == charged


async def test_a_full_disk_stops_the_download_and_leaves_no_file(
    api: respx.MockRouter,
    client: AsyncVoipano,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api.get(f"/call-recordings/{CDR}").respond(
        200, content=AUDIO, headers=samples.RECORDING_HEADERS
    )
    real_open = Path.open

    class FullDisk:
        def __init__(self, file: Any) -> None:
            self.file = file

        def write(self, data: Any) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        writelines = write

        def close(self) -> None:
            self.file.close()

    monkeypatch.setattr(Path, "open", lambda self, *a, **k: FullDisk(real_open(self, *a, **k)))
    with pytest.raises(OSError, match="No space left"):
        await client.download_call_recording(CDR, tmp_path)
    monkeypatch.undo()
    assert files_in(tmp_path) == []


async def test_a_download_that_broke_off_resumes_from_where_it_stopped(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    server = FileServer(AUDIO, breaks=(3 * 65536,), headers={"ETag": '"v1"'})
    api.get(f"/call-recordings/{CDR}").mock(side_effect=server)

    path = await client.download_call_recording(CDR, tmp_path)

    assert path.read_bytes() == AUDIO
    assert files_in(tmp_path) == [path.name]
    first, second = server.requests
    assert "range" not in first.headers
    assert second.headers["range"] == f"bytes={3 * 65536}-"
    assert second.headers["if-range"] == '"v1"'
    assert second.headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_stream_that_broke_off_yields_each_byte_once(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    server = FileServer(AUDIO, breaks=(65536, 2 * 65536), ranges=False)
    api.get(f"/call-recordings/{CDR}").mock(side_effect=server)

    async with client.stream_call_recording(CDR) as audio:
        chunks = [chunk async for chunk in audio.aiter_bytes()]
        attempts = audio.meta.attempts

    # The server ignored Range and sent the whole file again: its start was skipped.
    assert b"".join(chunks) == AUDIO
    assert attempts == 3
    assert [r.headers.get("range") for r in server.requests] == [
        None,
        "bytes=65536-",
        "bytes=131072-",
    ]


async def test_without_a_version_the_retry_asks_for_a_range_without_if_range(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    weak = FileServer(AUDIO, breaks=(65536,), headers={"ETag": 'W/"v1"'})
    api.get(f"/call-recordings/{CDR}").mock(side_effect=weak)
    assert (await client.download_call_recording(CDR, tmp_path)).read_bytes() == AUDIO
    dated = FileServer(
        AUDIO, breaks=(65536,), headers={"Last-Modified": "Mon, 07 Dec 2026 06:00:00 GMT"}
    )
    api.get(f"/call-recordings/{CDR}").mock(side_effect=dated)
    assert (await client.download_call_recording(CDR, tmp_path)).read_bytes() == AUDIO

    # A weak ETag cannot name the bytes of a range; a date can.
    assert "if-range" not in weak.requests[1].headers
    assert dated.requests[1].headers["if-range"] == "Mon, 07 Dec 2026 06:00:00 GMT"


@pytest.mark.parametrize(
    "change",
    [pytest.param({"changed": AUDIO + b"x"}, id="other-size"), {"offset_shift": 1}],
    ids=["other-size", "wrong-range"],
)
async def test_an_answer_that_is_not_the_same_file_ends_the_download(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path, change: dict[str, Any]
) -> None:
    server = FileServer(AUDIO, breaks=(65536,), **change)
    api.get(f"/call-recordings/{CDR}").mock(side_effect=server)

    with pytest.raises(APIConnectionError, match="broke off") as info:
        await client.download_call_recording(CDR, tmp_path)

    # Nothing spliced from two files: no file at all, and the error says what was tried.
    assert files_in(tmp_path) == []
    assert len(server.requests) == 2
    assert info.value.attempts == 2
    assert info.value.request_line == f"GET /call-recordings/{CDR}?call_details_record_id={CDR}"


async def test_a_compressed_download_resumes_whole_and_skips_what_it_has(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    packed = gzip.compress(AUDIO)
    server = FileServer(packed, breaks=(len(packed) // 2,), headers={"Content-Encoding": "gzip"})
    api.get(f"/call-recordings/{CDR}").mock(side_effect=server)

    async with client.stream_call_recording(CDR) as audio:
        assert await audio.read() == AUDIO

    # Ranges count the bytes as sent, not as decoded: a coded body is asked for whole.
    assert [r.headers.get("range") for r in server.requests] == [None, None]


async def test_a_download_is_resumed_only_within_the_retry_policy(
    api: respx.MockRouter, tmp_path: Path
) -> None:
    server = FileServer(AUDIO, breaks=(65536,) * 5)
    api.get(f"/call-recordings/{CDR}").mock(side_effect=server)

    async with AsyncVoipano(TOKEN, max_retries=0) as once:
        with pytest.raises(APIConnectionError, match="broke off") as info:
            await once.download_call_recording(CDR, tmp_path)
    assert (info.value.attempts, len(server.requests)) == (1, 1)
    async with AsyncVoipano(TOKEN, retry=FAST) as client:
        with pytest.raises(APIConnectionError, match="broke off") as info:
            await client.download_call_recording(CDR, tmp_path)
    assert (info.value.attempts, len(server.requests)) == (3, 4)
    assert files_in(tmp_path) == []


async def test_a_read_timeout_mid_download_is_retried(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    class Stalled(httpx2.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield AUDIO[:65536]
            raise httpx2.ReadTimeout("timed out")

    answers = iter(
        [
            httpx2.Response(200, headers=samples.RECORDING_HEADERS, stream=Stalled()),
            httpx2.Response(200, headers=samples.RECORDING_HEADERS, content=AUDIO),
        ]
    )
    api.get(f"/call-recordings/{CDR}").mock(side_effect=lambda request: next(answers))

    assert (await client.download_call_recording(CDR, tmp_path)).read_bytes() == AUDIO
