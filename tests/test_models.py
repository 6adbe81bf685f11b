"""The published samples fit our models exactly; the models are strict about types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipano_async import (
    Answer,
    APIError,
    Billing,
    CallOtpResult,
    CallReport,
    ServiceList,
)
from voipano_async._converter import RULES, Converters, Rule, ShapeError, make_converter, structure
from voipano_async._envelope import decode_result
from voipano_async._models import EMPTY_EXTRA, FREE

from . import samples

STRICT = make_converter(strict=True)

SAMPLES = [(e.answer, e.result) for e in samples.ENDPOINTS]


@pytest.mark.parametrize("endpoint", samples.ENDPOINTS, ids=lambda e: e.name)
def test_published_samples_fit_the_models_with_no_key_left_over(
    endpoint: samples.Endpoint,
) -> None:
    answer, model = endpoint.answer, endpoint.result
    # The strict converter reads data and billing whole: a key our models lack fails here.
    result = STRICT.structure({**answer["data"], "billing": answer["billing"]}, model)
    assert result.billing == STRICT.structure(answer["billing"], Billing)
    # The SDK's own path (the envelope's billing structured apart) reads the same thing.
    response = httpx2.Response(200, json=answer)
    assert decode_result(response, model, charged=endpoint.charged) == result


@pytest.mark.parametrize("request_set", [True, False])
def test_ok_false_on_a_2xx_is_an_api_error_whose_response_has_the_body(request_set: bool) -> None:
    # decode_result may be given a response made by hand, with no request on it.
    refusal = {"ok": False, "message": "اعتبار کافی نیست", "code": "insufficient_credit"}
    request = httpx2.Request("POST", "https://api.voipano.com/api/v1/webservice/call-otp")
    response = httpx2.Response(200, json=refusal, request=request if request_set else None)
    with pytest.raises(APIError) as caught:
        decode_result(response, CallOtpResult, charged=True)
    error = caught.value
    assert error.status_code == 200
    assert error.response is not None
    assert error.response.json() == refusal
    if request_set:
        assert error.response.request is request


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
    from voipano_async import UnexpectedResponseError

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


# -- models listed nowhere, and a billing inside data -----------------------------------------


@attrs.frozen(kw_only=True)
class Credit:
    amount: int
    extra: Mapping[str, Any] = attrs.field(default=EMPTY_EXTRA)


@attrs.frozen(kw_only=True)
class Balance:
    """A result model in no ``__all__``: neither the package's nor this module's."""

    credit: Credit
    billing: Billing
    extra: Mapping[str, Any] = attrs.field(default=EMPTY_EXTRA)


def test_a_model_listed_nowhere_still_keeps_extra() -> None:
    credit = structure({"amount": 5, "currency": "IRR", "as_of": "now"}, Credit)
    assert credit.amount == 5
    assert list(credit.extra.items()) == [("currency", "IRR"), ("as_of", "now")]
    with pytest.raises(ShapeError) as info:
        structure({"amount": "5"}, Credit)
    assert info.value.problems == ["expected an integer, got a string @ $.amount"]
    with pytest.raises(cattrs.ForbiddenExtraKeysError):
        STRICT.structure({"amount": 5, "currency": "IRR"}, Credit)


def test_a_result_model_listed_nowhere_decodes_through_the_envelope() -> None:
    answer = {
        "ok": True,
        "data": {"credit": {"amount": 9840, "unit": "IRR"}, "as_of": "now"},
        "billing": {"charged": 0, "unit_price": 0, "plan": "free"},
    }
    balance = decode_result(httpx2.Response(200, json=answer), Balance, charged=False)
    assert balance.credit == Credit(amount=9840, extra={"unit": "IRR"})
    assert balance.extra == {"as_of": "now"}
    assert balance.billing == Billing(charged=0, unit_price=0, extra={"plan": "free"})


def test_a_billing_inside_data_is_kept_in_extra_not_overwritten() -> None:
    inner = {"charged": 1, "plan": "gold"}
    answer = {
        "ok": True,
        "data": {**samples.CALL_OTP["data"], "billing": inner, "zeta": 1},
        "billing": samples.CALL_OTP["billing"],
    }
    otp = decode_result(httpx2.Response(200, json=answer), CallOtpResult, charged=True)
    assert otp.billing == Billing(charged=160, unit_price=160, remaining_credit=9840)
    assert list(otp.extra.items()) == [("billing", inner), ("zeta", 1)]


@pytest.mark.parametrize("inner", [None, "gold", [], {"charged": "x"}, 7])
def test_a_billing_inside_data_neither_fails_nor_stands_in_for_a_missing_one(
    inner: object,
) -> None:
    answer = {"ok": True, "data": {**samples.SERVICES["data"], "billing": inner}}
    services = decode_result(httpx2.Response(200, json=answer), ServiceList, charged=False)
    assert services.billing is FREE
    assert services.extra == {"billing": inner}


def test_only_result_models_are_structured_with_a_billing() -> None:
    response = httpx2.Response(200, json=samples.SERVICES)
    with pytest.raises(TypeError, match="no billing field"):
        decode_result(response, CallReport, charged=False)


@pytest.mark.parametrize(("body", "cl"), SAMPLES)
def test_every_answer_lists_its_own_fields_first_then_billing_extra_meta(
    body: dict[str, Any], cl: type[Any]
) -> None:
    """The order of a result's repr and of the CLI's JSON keys and CSV columns."""
    result = decode_result(httpx2.Response(200, json=body), cl, charged=False)
    assert isinstance(result, Answer)
    names = [field.name for field in attrs.fields(cl)]
    assert names[-3:] == ["billing", "extra", "meta"]
    assert names[0] == next(iter(body["data"]))  # the API's first field leads
    assert repr(result).startswith(f"{cl.__name__}({names[0]}=")
    # Every nested model keeps unknown keys in extra, declared last.
    assert [f.name for f in attrs.fields(CallReport)][-1] == "extra"
    assert [f.name for f in attrs.fields(Billing)][-1] == "extra"


# -- the rules: a new field type is one entry --------------------------------------------------


@attrs.frozen(kw_only=True)
class Recorded:
    """A model with a field type the SDK's rules do not know."""

    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY_EXTRA)


WITH_DATES = Converters(
    {
        **RULES,
        dt.datetime: Rule(
            "a date and time",
            frozenset(),
            converts=frozenset({str}),
            convert=dt.datetime.fromisoformat,
        ),
    }
)


def test_a_new_field_type_is_one_rule_read_and_explained_alike() -> None:
    tehran = dt.timezone(dt.timedelta(hours=3, minutes=30))
    value = {"started_at": "2026-01-01T10:00:00+03:30", "ended_at": None, "zone": "IRST"}
    recorded = WITH_DATES.structure(value, Recorded)
    assert recorded.started_at == dt.datetime(2026, 1, 1, 10, tzinfo=tehran)
    assert recorded.ended_at is None
    assert recorded.extra == {"zone": "IRST"}
    # A misfit is explained by the same rule, with its path.
    with pytest.raises(ShapeError) as info:
        WITH_DATES.structure({"started_at": "yesterday", "ended_at": 5}, Recorded)
    assert info.value.problems == [
        "expected a date and time, got a string that is not one @ $.started_at",
        "expected a date and time, got a number @ $.ended_at",
    ]
    # The SDK's own rules do not know the type: nothing else changed.
    with pytest.raises(Exception, match="datetime"):
        structure(value, Recorded)


def test_a_rule_converts_what_it_says_it_converts() -> None:
    """A float field takes an integer (read as a float), never a boolean or a string."""

    @attrs.frozen
    class Rate:
        per_second: float

    assert structure({"per_second": 2}, Rate) == Rate(2.0)
    assert type(structure({"per_second": 2}, Rate).per_second) is float
    for wrong, kind in ((True, "a boolean"), ("2", "a string")):
        with pytest.raises(ShapeError) as info:
            structure({"per_second": wrong}, Rate)
        assert info.value.problems == [f"expected a number, got {kind} @ $.per_second"]
    with pytest.raises(ShapeError) as info:
        structure({"per_second": 10**400}, Rate)
    assert info.value.problems == [
        "expected a number, got a number that is not one @ $.per_second"
    ]
