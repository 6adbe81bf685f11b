"""Applying a scripted or random [`Fault`][voipano_async.testing.Fault] to one exchange.

A fault either replaces the answer before the sandbox acts (nothing was charged), or
spoils the real answer after it acted (the call was placed, the caller cannot tell).
"""

from __future__ import annotations

from ._faults import Fault
from ._wire import Answer, Exchange

__all__ = ["answer_with_fault", "refuse_with_fault"]


async def refuse_with_fault(fault: Fault, exchange: Exchange) -> None:
    """Answer with the fault's own status and body, or drop the connection."""
    exchange.record.status = fault.status
    if fault.delay and not await exchange.wait(fault.delay):
        return
    if fault.disconnect:
        await exchange.drop()
    status = fault.status or 500
    if fault.body is not None:
        headers = {"Content-Type": "text/plain", **fault.headers}
        await exchange.bytes(status, fault.body, headers)
    else:
        await exchange.json(status, fault.json, dict(fault.headers))


async def answer_with_fault(fault: Fault, answer: Answer, exchange: Exchange) -> None:
    """Send ``answer``, the result of a request already carried out, as ``fault`` spoils it."""
    exchange.record.status = fault.status
    if fault.truncate:
        if fault.delay and not await exchange.wait(fault.delay):
            return
        await exchange.half(answer)
        return
    if fault.status is not None or fault.disconnect:
        await refuse_with_fault(fault, exchange)
        return
    if fault.delay and not await exchange.wait(fault.delay):
        return
    if fault.drip_seconds and isinstance(answer, dict):
        # Only JSON is trickled: in process the head of an answer comes once the whole
        # of it is sent, and a download's deadline ends at its head.
        await exchange.drip(answer, fault.drip_seconds)
        return
    await exchange.answer(answer)
