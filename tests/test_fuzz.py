"""Property-based fuzzing: whatever the server sends, only results or VoipanoErrors come out."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voipano_async import VoipanoError
from voipano_async._envelope import api_error, decode_error_body, decode_result, parse_retry_after
from voipano_async._streams import safe_filename

from . import samples

# Every endpoint's model with its published answer; the charged ones must carry billing.
MODELS: list[tuple[type[Any], dict[str, Any]]] = [(e.result, e.answer) for e in samples.ENDPOINTS]
CHARGED = {e.result for e in samples.ENDPOINTS if e.charged}

odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20
) | st.sampled_from(["", "\u200c", "۰۹۱۲", "\x00", "\ud7ff", "🙂" * 5, "a" * 5000])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False)
    | odd_text
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(odd_text, children, max_size=4)
    ),
    max_leaves=25,
)


def mutations(sample: dict[str, Any]) -> st.SearchStrategy[Any]:
    """The sample with one value somewhere replaced, deleted, or a key added."""

    def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [prefix]
        if isinstance(value, dict):
            for key, item in value.items():
                found += paths(item, (*prefix, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found += paths(item, (*prefix, index))
        return found

    every_path = paths(sample)[1:]

    @st.composite
    def mutate(draw: st.DrawFn) -> Any:
        body = json.loads(json.dumps(sample))
        path = draw(st.sampled_from(every_path))
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(odd_text)] = draw(json_values)
        return body

    return mutate()


def decode(model: type[Any], body: Any, *, raw: bytes | None = None, charged: bool) -> None:
    content = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    response = httpx2.Response(200, content=content)
    outcome: object
    try:
        outcome = decode_result(response, model, charged=charged)
    except VoipanoError as error:
        outcome = error
    # Either the model, or a typed error that reads as a sentence: nothing else escapes.
    assert isinstance(outcome, model) or (isinstance(outcome, VoipanoError) and str(outcome))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MODELS).flatmap(lambda m: st.tuples(st.just(m[0]), mutations(m[1]))))
def test_mutated_published_answers(case: tuple[type[Any], Any]) -> None:
    model, body = case
    decode(model, body, charged=model in CHARGED)


@settings(max_examples=200)
@given(st.sampled_from([m for m, _ in MODELS]), json_values)
def test_arbitrary_json_answers(model: type[Any], body: Any) -> None:
    decode(model, body, charged=False)
    decode(model, {"ok": True, "data": body, "billing": body}, charged=True)


@settings(max_examples=200)
@given(st.sampled_from(MODELS), json_values)
def test_a_billing_inside_data_is_kept_apart(case: tuple[type[Any], Any], inner: Any) -> None:
    model, sample = case
    body = {**sample, "data": {**sample["data"], "billing": inner}}
    content = json.dumps(body, ensure_ascii=False).encode()
    result = decode_result(httpx2.Response(200, content=content), model, charged=True)
    # The envelope's billing is the result's; the server's data.billing is kept as sent.
    assert (
        result.billing
        == decode_result(httpx2.Response(200, json=sample), model, charged=True).billing
    )
    assert list(result.extra) == ["billing"]
    assert result.extra["billing"] == json.loads(content)["data"]["billing"]


@settings(max_examples=200)
@given(st.sampled_from([m for m, _ in MODELS]), st.binary(max_size=200))
def test_arbitrary_bytes(model: type[Any], raw: bytes) -> None:
    decode(model, None, raw=raw, charged=True)


@settings(max_examples=200)
@given(
    st.integers(min_value=100, max_value=599),
    st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
)
def test_arbitrary_error_answers(status: int, content: bytes) -> None:
    response = httpx2.Response(status, content=content, headers={"Retry-After": "1"})
    error = api_error(response, decode_error_body(content))
    assert isinstance(error, VoipanoError)
    assert error.status_code == status
    assert isinstance(error.message, str)
    assert str(error)


@given(
    st.text(max_size=60)
    | st.sampled_from(
        [
            "0",
            "-5",
            "1e400",
            "nan",
            "inf",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            " 3 ",
            "3.5",
        ]
    )
)
def test_retry_after_never_raises(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or (seconds >= 0 and not math.isnan(seconds))


@given(odd_text | st.text(max_size=300), odd_text)
def test_content_disposition_names_are_always_safe(name: str, fallback: str) -> None:
    for header in (
        f'attachment; filename="{name}"',
        f"attachment; filename={name}",
        f"attachment; filename*=UTF-8''{name}",
        name,
    ):
        safe = safe_filename(header, f"recording-{fallback}.wav")
        assert safe
        assert "/" not in safe
        assert "\\" not in safe
        assert not safe.startswith(".")
        assert safe not in {".", ".."}
        assert len(safe.encode("utf-8")) <= 200
        assert not any(ord(c) < 32 for c in safe)


# -- bodies: bounded, whatever the encoding claims --------------------------------------------

ENCODINGS = st.sampled_from(["", "identity", "gzip", "deflate", "gzip, gzip", "br", "x-gzip"])


def _encode(data: bytes, encoding: str, mode: str) -> bytes:
    import gzip
    import zlib

    if mode == "garbage" or encoding in {"", "identity", "br"}:
        return data
    out = data
    for name in [n.strip() for n in encoding.split(",")]:
        if name in {"gzip", "x-gzip"}:
            out = gzip.compress(out)
        elif mode == "raw-deflate":
            squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            out = squeezer.compress(out) + squeezer.flush()
        else:
            out = zlib.compress(out)
    return out


def _read(content: bytes, encoding: str, limit: int, truncate: bool) -> bytes:
    import anyio

    from voipano_async._body import read_body

    headers = {"Content-Encoding": encoding} if encoding else {}

    async def main() -> bytes:
        response = httpx2.Response(200, headers=headers, stream=httpx2.ByteStream(content))
        return await read_body(response, limit, truncate=truncate)

    return anyio.run(main)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=3000) | st.builds(lambda n: b"\0" * n, st.integers(0, 200_000)),
    encoding=ENCODINGS,
    mode=st.sampled_from(["valid", "raw-deflate", "garbage"]),
    limit=st.integers(1, 4096),
    truncate=st.booleans(),
)
def test_bodies_are_bounded_whatever_the_encoding(
    data: bytes, encoding: str, mode: str, limit: int, truncate: bool
) -> None:
    from voipano_async._body import BodyError

    content = _encode(data, encoding, mode)
    try:
        body = _read(content, encoding, limit, truncate)
    except BodyError:
        assert not truncate  # error bodies keep what could be read, never raise
        return
    assert len(body) <= limit
    decodable = (mode != "garbage" and encoding in {"gzip", "x-gzip", "deflate"}) or (
        encoding in {"", "identity"}
    )
    if decodable:
        assert body == data[:limit]
        assert truncate or len(data) <= limit


@settings(max_examples=200, deadline=None)
@given(
    pad=st.integers(1900, 2100),
    before=st.text(alphabet="ab ك", max_size=50),
    token=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=8, max_size=40),
)
def test_a_scrubbed_preview_never_shows_part_of_the_token(
    pad: int, before: str, token: str
) -> None:
    text = (before + "x" * pad)[:pad] + token + " tail"
    shown = decode_error_body(text.encode(), redact=token)
    assert isinstance(shown, str)
    assert token not in shown
    # No prefix of the token (of 4 characters or more) is left at the cut.
    assert not any(shown.endswith(token[:n]) for n in range(4, len(token)))


def _json_path(place: tuple[Any, ...]) -> str:
    return "$.data" + "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in place)


def _read_or_explained(model: type[Any], data: Any, place: tuple[Any, ...]) -> None:
    """One path reads every answer: it fits, or a problem names the place made wrong.

    When the value at ``place`` was made wrong, the problems name that place (or the
    object holding it); when the answer fits, the explaining path reads it alike and the
    result holds what was sent.
    """
    from voipano_async._converter import CONVERTERS, ShapeError, structure
    from voipano_async._models import Envelope

    body = {"ok": True, "data": data}
    problems: list[str] = []
    try:
        envelope = structure(body, Envelope[model])
    except ShapeError as exc:
        problems = exc.problems
    if problems:
        where, parent = _json_path(place), _json_path(place[:-1])
        assert any(f"@ {where}" in p or p.endswith(f"@ {parent}") for p in problems), (
            where,
            problems,
        )
        return
    # What was read is read alike with detail: the explaining path refuses nothing more.
    assert CONVERTERS.detailed.structure(body, Envelope[model]) == envelope
    fields = envelope.data
    for name, value in fields.items():
        if name == "extra":
            assert dict(value) == {k: data[k] for k in value}
            assert list(value) == [k for k in data if k in value]
        elif isinstance(value, str | int | bool) or value is None:
            assert data.get(name) == value, name


WRONG_VALUES = [None, True, False, 0, 7, 1.5, "", "x", [], [1], {}, {"a": 1}]


def _places(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict | list):
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in children:
            found += _places(item, (*prefix, key))
    return found


def test_every_wrong_value_in_every_place_is_read_or_named() -> None:
    """Each place of each answer, given each kind of wrong value (or deleted)."""
    for model, sample in MODELS:
        for place in _places(sample["data"])[1:]:
            for wrong in [*WRONG_VALUES, "deleted"]:
                data = json.loads(json.dumps(sample["data"]))
                parent = data
                for key in place[:-1]:
                    parent = parent[key]
                if wrong == "deleted":
                    del parent[place[-1]]
                else:
                    parent[place[-1]] = wrong
                _read_or_explained(model, data, place)
