# pyright: strict, reportUnnecessaryTypeIgnoreComment=true
"""Checked by ``nox -s typecheck`` (mypy --strict and pyright), never run.

The blocking client's methods are made from the async client's at import time; these
lines hold that type checkers still see each method's own parameters and result.
"""

from pathlib import Path
from typing import assert_type

from voipano_async import (
    AudioStreamSync,
    CallOtpResult,
    CallReport,
    CallReportIterator,
    CallReportsPage,
    CallResult,
    ServiceList,
    VoicemailInboxes,
    Voipano,
)


def check(client: Voipano) -> None:
    assert_type(Voipano("token", base_url="https://voipano.com", max_retries=3), Voipano)
    assert_type(client.call_otp("09123456789", purpose="login"), CallOtpResult)
    assert_type(client.click_to_call("09123456789", "02191010001", timeout=30), CallResult)
    assert_type(client.secure_call("09123456789", "09129876543", limit=60), CallResult)
    assert_type(client.call_reports_page(2, per_page=10, request_timeout=5), CallReportsPage)
    assert_type(client.services(), ServiceList)
    assert_type(client.voicemail_inboxes(context="c"), VoicemailInboxes)
    assert_type(client.download_call_recording("1", "out/"), Path)
    assert_type(client.with_options(timeout=60), Voipano)
    assert_type(client.base_url, str)
    assert_type(client.spent, int)
    for report in client.call_reports(has_recording=True, start_page=3):
        assert_type(report, CallReport)
    assert_type(client.call_reports(), CallReportIterator)
    with client.stream_call_recording("1") as audio:
        assert_type(audio, AudioStreamSync)
    assert_type(Voipano.services(client), ServiceList)

    # Misspelt or mistyped arguments are caught, as on AsyncVoipano.
    Voipano(base_ur="https://voipano.com")  # type: ignore[call-arg]
    client.call_otp("09123456789", purpos="login")  # type: ignore[call-arg]
    client.call_reports_page("2")  # type: ignore[arg-type]
    client.services(request_timeot=5)  # type: ignore[call-arg]
