"""The charged calls of ``AsyncVoipano``: voice OTP, click-to-call and secure calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, Unpack

from ._models import CallOtpResult, CallResult
from ._phone import normalize_phone_number
from ._transport import Transport
from ._types import CallOptions, RequestOptions

__all__ = ["ChargedCalls"]

Charged = TypeVar("Charged", CallOtpResult, CallResult)


class ChargedCalls:
    """The endpoints that cost money and ring phones (mixed into ``AsyncVoipano``)."""

    _transport: Transport

    async def call_otp(
        self,
        phone_number: str,
        *,
        purpose: str | None = None,
        client_ref: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> CallOtpResult:
        """Call a number and read out a verification code (charged: 160 by the price list).

        Args:
            phone_number: The number to call; normalised (``+98``, Persian digits, ...).
            purpose: What the code is for, e.g. ``"login"``.
            client_ref: Your own reference for this request, echoed in reports.

        Raises:
            InvalidPhoneNumberError: Before any request, for a number that is not valid.
            APIError: The server refused (``InsufficientCreditError`` when out of credit).
            APIConnectionError: The network failed; check ``may_have_been_placed``
                before trying again.

        Examples:
            >>> otp = await client.call_otp("09123456789", purpose="login")
        """
        body: dict[str, Any] = {"phone_number": normalize_phone_number(phone_number)}
        if purpose is not None:
            body["purpose"] = purpose
        if client_ref is not None:
            body["client_ref"] = client_ref
        return await self._charged("/call-otp", body, CallOtpResult, options)

    async def click_to_call(
        self, call_source: str, call_destination: str, **options: Unpack[CallOptions]
    ) -> CallResult:
        """Ring ``call_source``, then connect it to ``call_destination`` (charged: 80).

        Args:
            call_source: The number rung first.
            call_destination: The number it is connected to.
            **options: The API's ``timeout`` (ring time) and ``limit`` (longest call),
                and any per-call option: see [`CallOptions`][voipano_async.CallOptions].
                ``request_timeout`` is the HTTP timeout, not the API's ``timeout``.

        Raises:
            InvalidPhoneNumberError: Before any request, for a number that is not valid.
            APIError: The server refused the call.
            APIConnectionError: The network failed; check ``may_have_been_placed``.

        Examples:
            >>> call = await client.click_to_call("09123456789", "02191010001", timeout=30)
        """
        return await self._connect("/click-to-call", call_source, call_destination, options)

    async def secure_call(
        self, call_source: str, call_destination: str, **options: Unpack[CallOptions]
    ) -> CallResult:
        """Connect two numbers without showing either one to the other (charged: 120).

        Arguments, errors and result as for
        [`click_to_call`][voipano_async.AsyncVoipano.click_to_call].

        Examples:
            >>> call = await client.secure_call("09123456789", "09129876543", limit=30)
        """
        return await self._connect("/secure-call", call_source, call_destination, options)

    async def _connect(
        self, path: str, call_source: str, call_destination: str, options: CallOptions
    ) -> CallResult:
        """Both endpoints that join two numbers: the same body, the same rules."""
        body: dict[str, Any] = {
            "call_source": normalize_phone_number(call_source),
            "call_destination": normalize_phone_number(call_destination),
        }
        fields = {"timeout": options.pop("timeout", None), "limit": options.pop("limit", None)}
        body.update((name, value) for name, value in fields.items() if value is not None)
        return await self._charged(path, body, CallResult, options)

    async def _charged(
        self, path: str, body: dict[str, Any], cl: type[Charged], options: Mapping[str, Any]
    ) -> Charged:
        transport = self._transport
        # The request is built first: whatever would fail to build (a body that is not
        # JSON, say) fails here, before any credit is reserved. A call never sent costs
        # nothing.
        call = transport.prepare(
            "POST",
            path,
            json=body,
            charged=True,
            options=options,
            operation=path[1:].replace("-", "_"),  # "/call-otp": call_otp
        )
        return await transport.charged_call(call, path, cl)
