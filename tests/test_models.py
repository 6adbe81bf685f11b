"""The published samples fit our models exactly; the models are strict about types."""

from __future__ import annotations

from typing import Any

import cattrs
import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipano_async import (
    Billing,
    CallOtpResult,
    CallReport,
    CallReportsPage,
    CallResult,
    ServiceList,
    VoicemailInboxes,
)
from voipano_async._converter import ShapeError, make_converter, structure

from . import samples

STRICT = make_converter(strict=True)

SAMPLES: list[tuple[dict[str, Any], type[Any]]] = [
    (samples.CALL_OTP, CallOtpResult),
    (samples.CLICK_TO_CALL, CallResult),
    (samples.SECURE_CALL, CallResult),
    (samples.CALL_REPORTS, CallReportsPage),
    (samples.SERVICES, ServiceList),
    (samples.VOICEMAIL_INBOXES, VoicemailInboxes),
]


@pytest.mark.parametrize(("answer", "model"), SAMPLES)
def test_published_samples_fit_the_models_with_no_key_left_over(
    answer: dict[str, Any], model: type[Any]
) -> None:
    billing = STRICT.structure(answer["billing"], Billing)
    result = STRICT.structure({**answer["data"], "billing": billing}, model)
    assert result.billing == billing
    # The lenient converter reads the same thing.
    assert structure({**answer["data"], "billing": billing}, model) == result


def test_strict_converter_rejects_unknown_keys() -> None:
    with pytest.raises(cattrs.ForbiddenExtraKeysError):
        STRICT.structure({"charged": 0, "unit_price": 0, "currency": "IRR"}, Billing)


def test_lenient_converter_keeps_unknown_keys_read_only() -> None:
    report = structure(
        {"id": "a", "call_details_record_id": "b", "has_recording": False, "duration": 7},
        CallReport,
    )
    assert report.extra == {"duration": 7}
    with pytest.raises(TypeError):
        report.extra["duration"] = 8  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"charged": "160", "unit_price": 160}, "expected an integer, got a string @ $.charged"),
        ({"charged": True, "unit_price": 160}, "expected an integer, got a boolean @ $.charged"),
        ({"charged": 1.0, "unit_price": 160}, "expected an integer, got a number @ $.charged"),
        ({"charged": None, "unit_price": 160}, "expected an integer, got null @ $.charged"),
        ({"unit_price": 160}, "required field missing @ $.charged"),
        ([], "expected an object, got an array @ $"),
    ],
)
def test_types_are_strict(value: object, problem: str) -> None:
    with pytest.raises(ShapeError) as info:
        structure(value, Billing)
    assert problem in info.value.problems


def test_bool_fields_reject_numbers() -> None:
    with pytest.raises(ShapeError) as info:
        structure({"id": "a", "call_details_record_id": "b", "has_recording": 1}, CallReport)
    assert "expected a boolean, got a number @ $.has_recording" in info.value.problems


def test_huge_numbers_stay_exact() -> None:
    billing = structure({"charged": 10**30, "unit_price": 0}, Billing)
    assert billing.charged == 10**30


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_decoder_never_raises_anything_but_shape_error(value: object) -> None:
    for _, model in SAMPLES:
        problems: list[str] = []
        try:
            structure(value, model)
        except ShapeError as exc:
            problems = exc.problems
            assert problems, "a ShapeError always says what did not fit"


def test_false_is_not_a_free_charge() -> None:
    from voipano_async import ServiceList, UnexpectedResponseError
    from voipano_async._envelope import decode_result

    answer = {**samples.SERVICES, "billing": {"charged": False, "unit_price": False}}
    response = httpx2.Response(200, json=answer)
    with pytest.raises(UnexpectedResponseError) as info:
        decode_result(response, ServiceList, charged=False)
    assert "expected an integer, got a boolean @ $.billing.charged" in info.value.problems


def test_extra_keys_keep_their_order_for_every_shape() -> None:
    first = {"id": "a", "call_details_record_id": "b", "zeta": 1, "alpha": 2}
    second = {"alpha": 3, "id": "c", "call_details_record_id": "d", "zeta": 4, "mid": 5}
    page = structure([first, second, first], list[CallReport])
    first_keys, second_keys = ["zeta", "alpha"], ["alpha", "zeta", "mid"]
    assert [list(r.extra) for r in page] == [first_keys, second_keys, first_keys]
    assert structure({"id": "x", "call_details_record_id": "y"}, CallReport).extra == {}
