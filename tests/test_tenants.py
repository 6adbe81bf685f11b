"""One client, many accounts: ``with_options(token=...)`` copies over one pool."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from voipano_async import (
    AsyncVoipano,
    AuthenticationError,
    InsufficientCreditError,
    ServerError,
    SpendLimitExceededError,
    Voipano,
)
from voipano_async.testing import Fault, VoipanoSandbox

pytestmark = pytest.mark.anyio

MAIN = "sandbox-token"
TENANT_A = "tenant-a-0123456789abcdef"
TENANT_B = "tenant-b-fedcba9876543210"
TOKENS = (MAIN, TENANT_A, TENANT_B)


def two_tenants(**options: Any) -> tuple[VoipanoSandbox, AsyncVoipano]:
    sandbox = VoipanoSandbox()
    sandbox.add_account(TENANT_A, credit=1_000)
    sandbox.add_account(TENANT_B, credit=300)
    return sandbox, sandbox.client(**options)


def sent_by(sandbox: VoipanoSandbox, token: str) -> list[tuple[str, str, str | None]]:
    return [
        (r.method, r.path, r.headers.get("x-tenant"))
        for r in sandbox.requests
        if r.account == token
    ]


async def test_each_copy_sends_its_own_token_and_pays_from_its_own_account() -> None:
    sandbox, client = two_tenants()
    async with client:
        a = client.with_options(token=TENANT_A, default_headers={"X-Tenant": "a"})
        b = client.with_options(token=TENANT_B, default_headers={"X-Tenant": "b"})
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(a.call_otp, "09123456789")
            tg.start_soon(b.call_otp, "09351234567")
            tg.start_soon(client.services)
        call = await b.click_to_call("09123456789", "09351234567")

    assert sent_by(sandbox, TENANT_A) == [("POST", "/call-otp", "a")] * 3
    assert sent_by(sandbox, TENANT_B) == [
        ("POST", "/call-otp", "b"),
        ("POST", "/click-to-call", "b"),
    ]
    assert sent_by(sandbox, MAIN) == [("GET", "/services", None)]
    # Each account paid for its own calls, and each copy counts its own account's.
    assert sandbox.accounts == {TENANT_A: 1_000 - 3 * 160, TENANT_B: 300 - 160 - 80}
    assert sandbox.credit == 10_000
    assert call.billing.remaining_credit == 60
    assert (client.spent, a.spent, b.spent) == (0, 480, 240)


async def test_copies_with_the_same_token_count_together() -> None:
    sandbox, client = two_tenants()
    async with client:
        a = client.with_options(token=TENANT_A)
        again = client.with_options(token=TENANT_A, max_retries=0)
        await a.call_otp("09123456789")
        await again.call_otp("09123456789")
        # A copy of a copy keeps the token it was made with.
        nested = a.with_options(timeout=10)
        await nested.secure_call("09123456789", "09351234567")

    assert a.spent == again.spent == nested.spent == 160 + 160 + 120
    assert client.spent == 0
    assert {r.account for r in sandbox.requests} == {TENANT_A}


async def test_the_spend_limit_holds_per_account() -> None:
    sandbox, client = two_tenants(spend_limit=400)
    async with client:
        a = client.with_options(token=TENANT_A)
        b = client.with_options(token=TENANT_B)
        await a.call_otp("09123456789")
        await a.call_otp("09123456789")
        with pytest.raises(SpendLimitExceededError):
            await a.call_otp("09123456789")  # a third would pass A's 400
        # B's account has spent nothing: the same limit, its own count.
        await b.call_otp("09123456789")
        await client.call_otp("09123456789")

    assert (a.spent, b.spent, client.spent) == (320, 160, 160)
    assert [r.account for r in sandbox.requests] == [TENANT_A, TENANT_A, TENANT_B, MAIN]


async def test_an_account_out_of_credit_refuses_only_its_own_calls() -> None:
    sandbox, client = two_tenants()
    async with client:
        b = client.with_options(token=TENANT_B)
        await b.call_otp("09123456789")
        with pytest.raises(InsufficientCreditError) as info:
            await b.call_otp("09123456789")  # 140 left, 160 asked
        await client.call_otp("09123456789")

    assert not info.value.may_have_been_placed
    assert sandbox.accounts[TENANT_B] == 140
    assert sandbox.credit == 10_000 - 160


async def test_no_token_reaches_another_copy_s_errors_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox, client = two_tenants(max_retries=1)
    sandbox.faults.script("/services", Fault.error(500))
    sandbox.faults.script("/call-otp", Fault.error(502, act=True))
    caplog.set_level(logging.DEBUG, logger="voipano_async")
    async with client:
        a = client.with_options(token=TENANT_A)
        stranger = client.with_options(token="revoked-token-0000000000")
        await a.services()  # retried once after the 500, which is logged
        with pytest.raises(AuthenticationError) as refused:
            await stranger.services()
        with pytest.raises(ServerError) as unknown:
            await a.call_otp("09123456789")  # may have been placed: not re-sent

    assert unknown.value.may_have_been_placed
    errors = (refused.value, unknown.value)
    shown = caplog.text + "".join(f"{e!s} {e!r}" for e in errors)
    assert "GET /services" in shown
    assert "POST /call-otp" in shown
    for token in (*TOKENS, "revoked-token-0000000000"):
        assert token not in shown
        assert token not in repr(a) + repr(stranger)


async def test_a_copy_with_a_token_shares_the_pool_and_closes_with_it() -> None:
    sandbox, client = two_tenants()
    a = client.with_options(token=TENANT_A)
    await a.aclose()  # stops the copy only
    await client.services()
    b = client.with_options(token=TENANT_B)
    await client.aclose()  # the pool's owner closes it for every copy
    with pytest.raises(Exception, match="closed"):
        await b.services()
    assert [r.account for r in sandbox.requests] == [MAIN]


def test_default_headers_may_not_carry_the_token() -> None:
    client = AsyncVoipano("token-0123456789")
    with pytest.raises(ValueError, match="token="):
        client.with_options(default_headers={"authorization": "Bearer other-token"})
    with pytest.raises(TypeError, match="default_headers"):
        client.with_options(default_headers={"X-Tenant": 7})  # type: ignore[dict-item]


def test_the_blocking_client_takes_a_token_per_copy() -> None:
    sandbox = VoipanoSandbox()
    sandbox.add_account(TENANT_A, credit=1_000)
    with sandbox.sync_client() as client:
        a = client.with_options(token=TENANT_A, default_headers={"X-Tenant": "a"})
        assert isinstance(a, Voipano)
        a.call_otp("09123456789")
        client.services()
        assert (a.spent, client.spent) == (160, 0)
    assert sent_by(sandbox, TENANT_A) == [("POST", "/call-otp", "a")]
    assert sent_by(sandbox, MAIN) == [("GET", "/services", None)]
