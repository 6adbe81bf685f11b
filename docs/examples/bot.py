"""A chat bot's `/login <phone>` command: a voice OTP, at most one per user a minute.

`handle_login(message, client, limiter)` is a plain async function: it needs a message
with `.text`, `.from_user.id` and `await .answer(text)` (what aiogram gives a handler),
the bot's one `AsyncVoipano` client and an `OtpLimiter`. No bot framework is imported
at module level, so tests call the handler directly with a fake message.

Run it with aiogram 3 against the local sandbox (no Voipano account needed):

    pip install "voipano-async[cli,sandbox]" aiogram
    # (not on PyPI yet: from the repository's root,
    #  python -m pip install ".[cli,sandbox]" aiogram)
    voipano sandbox                                  # in another terminal
    export VOIPANO_TOKEN=sandbox-token
    export VOIPANO_BASE_URL=http://127.0.0.1:8765/api/v1/webservice
    BOT_TOKEN=123456:ABC... python bot.py

then send `/login 0912 345 6789` to the bot in Telegram.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

from voipano_async import (
    AsyncVoipano,
    InsufficientCreditError,
    InvalidPhoneNumberError,
    RateLimitError,
    VoipanoError,
)


class User(Protocol):
    @property
    def id(self) -> int: ...


class Message(Protocol):
    """The parts of a chat message the handler uses (aiogram's `Message` has them)."""

    @property
    def text(self) -> str | None: ...

    @property
    def from_user(self) -> User | None: ...

    def answer(self, text: str) -> Awaitable[Any]: ...


class OtpLimiter:
    """Allows each user one code per `period` seconds, in memory (one bot process).

    Args:
        period: Seconds between two codes for the same user.
        clock: Returns the current time in seconds; tests pass a fake one.
    """

    def __init__(
        self, period: float = 60.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.period = period
        self._clock = clock
        self._last: dict[Hashable, float] = {}

    def acquire(self, user: Hashable) -> float:
        """Take `user`'s slot: return 0 if granted, else the seconds left to wait."""
        # No await in here, so two messages from one user cannot both pass the check.
        now = self._clock()
        last = self._last.get(user)
        if last is not None and now - last < self.period:
            return self.period - (now - last)
        if len(self._last) > 10_000:
            # Forget users whose wait is over, so the table does not grow forever.
            self._last = {u: t for u, t in self._last.items() if now - t < self.period}
        self._last[user] = now
        return 0.0

    def release(self, user: Hashable) -> None:
        """Give the slot back (nothing was sent, so the user may try again at once)."""
        self._last.pop(user, None)


USAGE = "Send /login and your phone number, for example: /login 0912 345 6789"


async def handle_login(
    message: Message,
    client: AsyncVoipano,
    limiter: OtpLimiter,
) -> None:
    """`/login <phone>`: call the user's phone and read out a login code."""
    # "/login 0912 345 6789", or "/login@OurBot ..." in a group chat.
    parts = (message.text or "").split(maxsplit=1)
    phone = parts[1] if len(parts) == 2 else ""
    if not phone or message.from_user is None:
        await message.answer(USAGE)
        return
    user = message.from_user.id
    wait = limiter.acquire(user)
    if wait:
        seconds = math.ceil(wait)
        await message.answer(f"A code is on its way. You can ask again in {seconds} s.")
        return
    try:
        ref = f"bot-user-{user}"  # our own reference, echoed in the call reports
        otp = await client.call_otp(phone, purpose="login", client_ref=ref)
    except VoipanoError as exc:
        if not exc.may_have_been_placed:
            limiter.release(user)  # nothing went out: let the user try again at once
        await message.answer(_reply_to(exc))
        return
    masked = otp.phone_number  # as the service masks it, e.g. "09123***789"
    await message.answer(f"Calling {masked} now: answer to hear your login code.")


def _reply_to(exc: VoipanoError) -> str:
    if isinstance(exc, InvalidPhoneNumberError):
        return f"That is not an Iranian phone number. {USAGE}"
    if exc.may_have_been_placed:
        # Unknown outcome: the phone may be ringing. Never call twice on our own.
        return "Your phone may be ringing already. No call? Ask again in a minute."
    if isinstance(exc, InsufficientCreditError):
        return "Login codes are unavailable right now. Please try again later."
    if isinstance(exc, RateLimitError):
        return "Too many people are logging in right now. Please try again in a minute."
    return "Could not send the code. Please try again in a minute."


async def main() -> None:
    """Run the bot with aiogram 3: poll Telegram with the environment's `BOT_TOKEN`."""
    import os

    from aiogram import Bot, Dispatcher
    from aiogram.filters import Command

    dispatcher = Dispatcher()
    # aiogram passes the message first, then the keyword arguments of start_polling
    # that the handler's signature names: here client= and limiter=.
    dispatcher.message.register(handle_login, Command("login"))
    bot = Bot(os.environ["BOT_TOKEN"])
    async with bot, AsyncVoipano(max_concurrency=20) as client:
        await dispatcher.start_polling(bot, client=client, limiter=OtpLimiter(60))


if __name__ == "__main__":
    import anyio

    anyio.run(main)
