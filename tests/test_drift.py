"""Answers that drifted from the published shape, as a PHP/Laravel server sends them.

Read tolerantly where the reading is lossless, strictly where it would be a guess, and
never silently: every reading is in ``meta.drift``, the ``voipano_async.drift`` logger and
the call's span. A placed call is a result.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from typing import Any

import httpx2
import pytest
import respx

from voipano_async import (
    AsyncVoipano,
    SpendLimitExceededError,
    UnexpectedResponseError,
    VoipanoError,
)
from voipano_async._envelope import decode_result
from voipano_async._models import FREE, ResponseMeta

from . import samples
from .conftest import FAST, TOKEN
from .otel import Otel, in_memory

otel = pytest.fixture(in_memory, name="otel")

BY_NAME = {endpoint.name: endpoint for endpoint in samples.ENDPOINTS}
Path = tuple[str | int, ...]


def changed(answer: dict[str, Any], *changes: tuple[Path, object]) -> dict[str, Any]:
    """A copy of ``answer`` with each value put at its path (``...``: the key gone)."""
    answer = copy.deepcopy(answer)
    for path, value in changes:
        parent = answer
        for step in path[:-1]:
            parent = parent[step]
        if value is ...:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return answer


def drifted(name: str, path: Path, value: object) -> dict[str, Any]:
    """The endpoint's published answer with ``value`` at ``path`` (``...``: the key gone)."""
    return changed(BY_NAME[name].answer, (path, value))


def read(name: str, answer: dict[str, Any], *, strict: bool = False) -> Any:
    """What the SDK's decoding makes of ``answer`` for the endpoint ``name``."""
    endpoint = BY_NAME[name]

    def meta_of(fields: Any, drift: tuple[str, ...]) -> ResponseMeta:
        return ResponseMeta(
            status_code=200, headers={}, request_id=None, attempts=1, elapsed=0.0, drift=drift
        )

    response = httpx2.Response(200, json=answer)
    return decode_result(
        response, endpoint.result, charged=endpoint.charged, strict=strict, meta_of=meta_of
    )


def at(result: Any, path: Path) -> Any:
    """The value the result holds for the answer's ``path`` (``data`` is the result)."""
    value = result
    for step in path[1:] if path[0] == "data" else path:
        value = value[step] if isinstance(step, int) else getattr(value, step)
    return value


def place(path: Path) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)


# (endpoint, where, what was sent, what it reads as, how the note shows it)
READINGS: list[tuple[str, Path, object, object, str]] = [
    # An integer field: an integral float, digits, a DECIMAL column's zero fraction.
    ("call_otp", ("billing", "charged"), "160", 160, '"160" read as 160'),
    ("call_otp", ("billing", "charged"), 160.0, 160, "160.0 read as 160"),
    ("call_otp", ("billing", "charged"), "160.00", 160, '"160.00" read as 160'),
    ("call_otp", ("billing", "unit_price"), "160", 160, '"160" read as 160'),
    ("call_otp", ("billing", "remaining_credit"), "9840.00", 9840, '"9840.00" read as 9840'),
    ("click_to_call", ("data", "provider", "status"), "201", 201, '"201" read as 201'),
    ("call_reports_page", ("data", "pagination", "page"), "1", 1, '"1" read as 1'),
    ("call_reports_page", ("data", "pagination", "per_page"), "10", 10, '"10" read as 10'),
    ("call_reports_page", ("data", "pagination", "total"), 32.0, 32, "32.0 read as 32"),
    ("call_reports_page", ("data", "pagination", "last_page"), 4.0, 4, "4.0 read as 4"),
    ("services", ("data", "total"), "1", 1, '"1" read as 1'),
    ("services", ("data", "items", 0, "subscription_id"), "12", 12, '"12" read as 12'),
    ("services", ("data", "items", 0, "remaining_days"), 26.0, 26, "26.0 read as 26"),
    ("services", ("data", "items", 0, "package", "id"), "2", 2, '"2" read as 2'),
    # A boolean field: 0/1 (TINYINT), "0"/"1", "true"/"false".
    ("call_reports_page", ("data", "items", 0, "has_recording"), 1, True, "1 read as true"),
    ("call_reports_page", ("data", "items", 0, "has_recording"), 0, False, "0 read as false"),
    ("call_reports_page", ("data", "items", 0, "has_recording"), "1", True, '"1" read as true'),
    ("call_reports_page", ("data", "items", 0, "has_recording"), "0", False, '"0" read as false'),
    ("click_to_call", ("data", "provider", "success"), "true", True, '"true" read as true'),
    ("click_to_call", ("data", "provider", "success"), "false", False, '"false" read as false'),
    # A string field: an id or a mailbox sent as a number.
    ("voicemail_inboxes", ("data", "items", 0, "mailbox"), 1001, "1001", '1001 read as "1001"'),
    ("voicemail_inboxes", ("data", "items", 0, "id"), 77, "77", '77 read as "77"'),
    ("call_reports_page", ("data", "items", 0, "id"), 5, "5", '5 read as "5"'),
    ("call_otp", ("data", "request_id"), 9001, "9001", '9001 read as "9001"'),
    (
        "click_to_call",
        ("data", "endpoint_number"),
        2191010001,
        "2191010001",
        '2191010001 read as "2191010001"',
    ),
    # An object field: PHP's empty array, read as null where the object cannot be empty.
    ("services", ("data", "items", 0, "package"), [], None, "[] read as null"),
    ("click_to_call", ("data", "provider"), [], None, "[] read as null"),
    ("services", ("billing",), [], FREE, "[] read as null"),
    # A list field: PHP's empty collection as an object.
    ("services", ("data", "items"), {}, [], "{} read as []"),
    ("voicemail_inboxes", ("data", "items"), {}, [], "{} read as []"),
    ("voicemail_inboxes", ("data", "allowed_contexts"), {}, [], "{} read as []"),
    ("call_reports_page", ("data", "items"), {}, [], "{} read as []"),
    # A null where the answer can do without the field: its default.
    (
        "call_reports_page",
        ("data", "items", 0, "has_recording"),
        None,
        False,
        "null read as false",
    ),
]


@pytest.mark.parametrize(("name", "path", "sent", "reads", "note"), READINGS)
def test_each_lossless_reading_in_each_model(
    name: str, path: Path, sent: object, reads: object, note: str
) -> None:
    result = read(name, drifted(name, path, sent))
    assert at(result, path) == reads
    assert result.meta.drift == (f"{place(path)}: {note}",)
    # Asked to read exactly, the same answer is refused, naming the place.
    with pytest.raises(UnexpectedResponseError) as info:
        read(name, drifted(name, path, sent), strict=True)
    assert any(problem.endswith(f"@ {place(path)}") for problem in info.value.problems)


def test_an_answer_with_the_published_shape_has_no_drift() -> None:
    for endpoint in samples.ENDPOINTS:
        assert read(endpoint.name, copy.deepcopy(endpoint.answer)).meta.drift == ()


# (endpoint, where, what was sent): a reading would be a guess.
GUESSES: list[tuple[str, Path, object]] = [
    ("services", ("data", "total"), "one"),
    ("services", ("data", "items", 0, "remaining_days"), "26 days"),
    ("services", ("data", "items", 0, "subscription_id"), "12abc"),
    ("services", ("data", "items", 0, "subscription_id"), "1.5"),
    ("services", ("data", "items", 0, "subscription_id"), True),
    ("call_reports_page", ("data", "items", 0, "has_recording"), 2),
    ("call_reports_page", ("data", "items", 0, "has_recording"), "maybe"),
    ("call_reports_page", ("data", "items", 0, "has_recording"), "True "),
    ("call_reports_page", ("data", "pagination", "last_page"), 3.2),
    ("call_reports_page", ("data", "pagination"), []),
    ("call_reports_page", ("data", "items"), {"0": samples.report(1)}),
    ("voicemail_inboxes", ("data", "items", 0, "mailbox"), 1001.5),
    ("voicemail_inboxes", ("data", "items", 0, "mailbox"), False),
    ("services", ("billing", "charged"), "80.5"),
    ("call_otp", ("billing", "charged"), "free"),
    ("call_otp", ("billing", "charged"), "80.5"),
    ("call_otp", ("billing", "unit_price"), None),
    ("call_otp", ("ok",), 1),
    ("call_otp", ("ok",), "true"),
]


@pytest.mark.parametrize(("name", "path", "sent"), GUESSES)
def test_what_would_be_a_guess_is_an_error_naming_its_place(
    name: str, path: Path, sent: object
) -> None:
    with pytest.raises(UnexpectedResponseError) as info:
        read(name, drifted(name, path, sent))
    assert any(problem.endswith(f"@ {place(path)}") for problem in info.value.problems), (
        info.value.problems
    )
    assert info.value.may_have_been_placed is BY_NAME[name].charged


@pytest.mark.parametrize("charged", ["-160", -160, -160.0, "-160.00"])
def test_a_negative_charge_in_any_spelling_is_refused(charged: object) -> None:
    with pytest.raises(UnexpectedResponseError) as info:
        read("call_otp", drifted("call_otp", ("billing", "charged"), charged))
    assert info.value.problems == ["expected 0 or more @ $.billing.charged"]


# -- a placed call is a result ------------------------------------------------------------------


def _answer(*changes: tuple[Path, object]) -> dict[str, Any]:
    return changed(samples.CALL_OTP, *changes)


PLACED = [
    pytest.param(_answer((("billing", "charged"), "160")), 160, 1, id="charged-string"),
    pytest.param(_answer((("billing", "charged"), 160.0)), 160, 1, id="charged-float"),
    pytest.param(_answer((("billing", "charged"), "160.00")), 160, 1, id="charged-decimal"),
    pytest.param(_answer((("data", "request_id"), ...)), 160, 1, id="no-request-id"),
    pytest.param(_answer((("data", "phone_number"), None)), 160, 0, id="null-phone"),
    pytest.param(_answer((("data", "purpose"), ["login"])), 160, 1, id="unreadable-purpose"),
    pytest.param(_answer((("billing",), ...)), 160, 1, id="no-billing"),
    pytest.param(_answer((("billing",), None)), 160, 1, id="null-billing"),
    pytest.param(_answer((("billing",), [])), 160, 1, id="empty-billing"),
    pytest.param(
        _answer((("billing",), {"charged": "150", "unit_price": "150"})), 150, 2, id="cheaper"
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "spent", "notes"), PLACED)
async def test_a_placed_call_whose_answer_drifted_is_a_result(
    api: respx.MockRouter, answer: dict[str, Any], spent: int, notes: int
) -> None:
    route = api.post("/call-otp").respond(200, json=answer)
    async with AsyncVoipano(TOKEN, retry=FAST, spend_limit=1000) as client:
        otp = await client.call_otp("09123456789")
        assert client.spent == spent
    assert route.call_count == 1
    # Every reading noted (a null the result allows is no reading: it is null).
    assert len(otp.meta.drift) == notes
    request_id = answer["data"].get("request_id")
    assert otp.request_id == request_id
    assert otp.meta.request_id == request_id


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("provider", "status"),
    [([], "accepted"), ({"success": "maybe", "status": 201}, "accepted"), (None, None)],
)
async def test_a_placed_click_to_call_whose_answer_drifted_is_a_result(
    api: respx.MockRouter, client: AsyncVoipano, provider: object, status: str | None
) -> None:
    answer = copy.deepcopy(samples.CLICK_TO_CALL)
    answer["data"]["provider"] = provider
    answer["data"]["status"] = status
    api.post("/click-to-call").respond(200, json=answer)
    call = await client.click_to_call("09123456789", "09129876543")
    assert call.provider is None
    assert call.status == status
    assert client.spent == 80


@pytest.mark.anyio
async def test_a_charge_that_would_be_a_guess_raises_and_is_counted(
    api: respx.MockRouter,
) -> None:
    answer = _answer((("billing", "charged"), "free"), (("data", "request_id"), 31337))
    api.post("/call-otp").respond(200, json=answer)
    async with AsyncVoipano(TOKEN, retry=FAST) as client:
        with pytest.raises(UnexpectedResponseError) as info:
            await client.call_otp("09123456789")
        assert client.spent == 160
    assert info.value.may_have_been_placed is True
    assert info.value.request_id == "31337"  # the one thing a support ticket needs


@pytest.mark.anyio
async def test_no_reading_reopens_the_spend_guard(api: respx.MockRouter) -> None:
    answers = [_answer((("billing", "charged"), value)) for value in ("-160", "160.00")]
    api.post("/call-otp").mock(side_effect=[httpx2.Response(200, json=a) for a in answers])
    async with AsyncVoipano(TOKEN, retry=FAST, spend_limit=320) as client:
        with pytest.raises(UnexpectedResponseError):
            await client.call_otp("09123456789")
        assert client.spent == 160  # the refused answer's call counted at its price
        await client.call_otp("09123456789")
        assert client.spent == 320
        with pytest.raises(SpendLimitExceededError):
            await client.call_otp("09123456789")


@pytest.mark.anyio
async def test_strict_responses_reads_only_the_published_shape(api: respx.MockRouter) -> None:
    api.post("/call-otp").respond(200, json=_answer((("billing", "charged"), "160")))
    async with AsyncVoipano(TOKEN, retry=FAST, strict_responses=True) as client:
        assert client.strict_responses is True
        with pytest.raises(UnexpectedResponseError) as info:
            await client.call_otp("09123456789")
        assert client.spent == 160
        tolerant = client.with_options(strict_responses=False)
        assert (await tolerant.call_otp("09123456789")).billing.charged == 160  # type: ignore[union-attr]
    assert info.value.problems == ["expected an integer, got a string @ $.billing.charged"]
    with pytest.raises(TypeError, match="strict_responses must be True or False"):
        AsyncVoipano(TOKEN, strict_responses="yes")  # type: ignore[arg-type]


# -- never silent --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_drift_is_logged_once_per_endpoint_and_place_per_client(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    page = copy.deepcopy(samples.CALL_REPORTS)
    page["data"]["items"] = [dict(page["data"]["items"][0], has_recording=1)] * 3
    page["data"]["pagination"]["last_page"] = 4.0
    api.get("/call-reports").respond(200, json=page)
    api.get("/services").respond(200, json=drifted("services", ("data", "total"), "1"))
    caplog.set_level(logging.WARNING, logger="voipano_async.drift")
    async with AsyncVoipano(TOKEN, retry=FAST) as client:
        for _ in range(3):
            reports = await client.call_reports_page()
            assert len(reports.meta.drift) == 4  # every note, on every answer
        await client.with_options(timeout=9).services()  # a copy is the same client
        await client.services()
    async with AsyncVoipano(TOKEN, retry=FAST) as other:
        await other.services()
    lines = [r.getMessage() for r in caplog.records if r.name == "voipano_async.drift"]
    assert [r.levelname for r in caplog.records] == ["WARNING"] * 4
    assert sum("$.data.items[0].has_recording: 1 read as true" in line for line in lines) == 1
    assert sum("$.data.pagination.last_page: 4.0 read as 4" in line for line in lines) == 1
    assert sum("GET /services" in line for line in lines) == 2  # once per client
    assert all("meta.drift" in line for line in lines)


@pytest.mark.anyio
async def test_drift_is_a_span_event_and_a_counter(api: respx.MockRouter, otel: Otel) -> None:
    recorder = otel
    answer = drifted("call_otp", ("billing", "charged"), "160")
    answer["data"]["phone_number"] = 989123456789
    api.post("/call-otp").respond(200, json=answer)
    async with AsyncVoipano(
        TOKEN,
        retry=FAST,
        tracer_provider=recorder.tracer_provider,
        meter_provider=recorder.meter_provider,
    ) as client:
        otp = await client.call_otp("09123456789")
    assert otp.phone_number == "989123456789"
    (span,) = recorder.finished()
    (event,) = [e for e in span.events if e.name == "voipano.drift"]
    notes = list((event.attributes or {})["voipano.drift.notes"])
    assert '$.billing.charged: "160" read as 160' in notes
    assert '$.data.phone_number: 989123***789 read as "989123***789"' in notes  # masked
    (point,) = recorder.points("voipano.drift").values()
    assert point.value == 2


def test_a_drifted_answer_never_raises_a_bare_error() -> None:
    """Whatever drifted, only results or ``VoipanoError``s come out."""
    for name, path, sent, *_ in READINGS:
        for value in (sent, "x", [], {}, None, 1.5):
            with contextlib.suppress(VoipanoError):
                read(name, drifted(name, path, value))
