"""``Voipano``: the blocking client, made from ``AsyncVoipano``'s own methods.

Nothing here restates a parameter: each method is the ``AsyncVoipano`` method of the same
name, run on the client's own event-loop thread (see ``_sync``), so a new argument on the
async client is on the blocking one too, with the same type. The endpoint lines are written
by ``scripts/blocking_client.py`` from ``AsyncVoipano``'s endpoints (the test suite checks
they are current), so a new endpoint is on the blocking client once the script has run.
"""

from __future__ import annotations

from typing import Any, Final

from ._client import AsyncVoipano
from ._sync import (
    BlockingBase,
    blocking,
    copying,
    same_arguments,
)

__all__ = ["Voipano"]


class Voipano(BlockingBase):
    """The blocking client, for Django, Flask, scripts and notebooks.

    Same constructor options, methods, models, errors and retry rules as
    [`AsyncVoipano`][voipano_async.AsyncVoipano], which it runs underneath on one
    background event-loop thread per client. Safe to share between threads; usable where
    an event loop is already running in the calling thread (Jupyter). Ctrl-C cancels the
    request in flight and leaves the client usable. A client that is never closed is
    closed when the interpreter exits.

    Every method takes the arguments of the ``AsyncVoipano`` method of the same name and
    returns its result directly. ``call_reports`` returns a
    [`CallReportIterator`][voipano_async.CallReportIterator] (``for``, not ``async for``),
    the ``stream_*`` methods a ``with`` context giving an
    [`AudioStreamSync`][voipano_async.AudioStreamSync], and ``with_options`` a
    ``Voipano``. ``close()`` stands for ``aclose()``.

    Examples:
        >>> with Voipano() as client:  # token from VOIPANO_TOKEN
        ...     otp = client.call_otp("09123456789", purpose="login")
        ...     for report in client.call_reports(has_recording=True):
        ...         client.download_call_recording(report, "recordings/")
    """

    @same_arguments(AsyncVoipano)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as [`AsyncVoipano`][voipano_async.AsyncVoipano]."""
        self._start(AsyncVoipano(*args, **kwargs))

    with_options: Final = copying(AsyncVoipano.with_options)
    request: Final = blocking(AsyncVoipano.request)

    # Made by scripts/blocking_client.py from AsyncVoipano's endpoints; do not edit.
    # ChargedCalls (voipano_async._calls).
    call_otp: Final = blocking(AsyncVoipano.call_otp)
    click_to_call: Final = blocking(AsyncVoipano.click_to_call)
    secure_call: Final = blocking(AsyncVoipano.secure_call)

    # Reads (voipano_async._reads).
    call_reports_page: Final = blocking(AsyncVoipano.call_reports_page)
    call_reports: Final = blocking(AsyncVoipano.call_reports)
    services: Final = blocking(AsyncVoipano.services)
    voicemail_inboxes: Final = blocking(AsyncVoipano.voicemail_inboxes)
    stream_call_recording: Final = blocking(AsyncVoipano.stream_call_recording)
    stream_voicemail_recording: Final = blocking(AsyncVoipano.stream_voicemail_recording)
    download_call_recording: Final = blocking(AsyncVoipano.download_call_recording)
    download_voicemail_recording: Final = blocking(AsyncVoipano.download_voicemail_recording)
    # End of the made lines.
