"""A setting is checked once, as it is made: the constructor and every copy alike."""

from __future__ import annotations

from typing import Any

import attrs
import httpx2
import pytest

from voipano_async import AsyncVoipano, RetryPolicy, Voipano

from .conftest import TOKEN

# What a copy may change, given wrong: the error, and a word its message must hold.
BAD_COPIES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"timeout": 0}, ValueError, "timeout must be more than 0"),
    ({"timeout": "30"}, TypeError, "timeout must be a number of seconds"),
    ({"timeout": True}, TypeError, "timeout must be a number of seconds"),
    ({"download_timeout": -1}, ValueError, "download_timeout must be more than 0"),
    ({"deadline": 0}, ValueError, "deadline must be a number of seconds above 0"),
    ({"deadline": True}, ValueError, "deadline must be a number of seconds above 0"),
    ({"max_retries": -1}, ValueError, "max_retries must be a whole number"),
    ({"max_retries": 2.5}, ValueError, "max_retries must be a whole number"),
    ({"retry": "again"}, TypeError, "retry must be a voipano_async.RetryPolicy"),
    ({"retry": RetryPolicy(max_retries=1), "max_retries": 3}, ValueError, "disagree"),
]


@pytest.mark.parametrize(("kwargs", "error", "words"), BAD_COPIES)
def test_a_bad_setting_is_refused_alike_by_the_constructor_and_by_a_copy(
    kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        AsyncVoipano(TOKEN, **kwargs)
    client = AsyncVoipano(TOKEN, timeout=7)
    with pytest.raises(error, match=words):
        client.with_options(**kwargs)
    # The client it was asked of is as it was.
    assert client.timeout == httpx2.Timeout(7)
    assert client.retry == RetryPolicy()


@pytest.mark.parametrize(("kwargs", "error", "words"), BAD_COPIES[:3])
def test_the_blocking_client_refuses_them_too(
    kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with Voipano(TOKEN) as client, pytest.raises(error, match=words):
        client.with_options(**kwargs)


def test_a_copy_changes_only_what_it_is_given() -> None:
    client = AsyncVoipano(TOKEN, timeout=7, deadline=20, retry=RetryPolicy(cap=3.0))
    copy = client.with_options(max_retries=5)
    assert copy.retry == attrs.evolve(client.retry, max_retries=5)
    assert (copy.timeout, copy.base_url) == (client.timeout, client.base_url)
    deadline_off = copy.with_options(deadline=None, download_timeout=300)
    assert deadline_off.retry == copy.retry
    assert deadline_off.timeout == httpx2.Timeout(7)
    assert type(copy) is AsyncVoipano
    assert not copy.is_closed


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"base_url": "http://api.example.com"}, Exception, "must be an https URL"),
        ({"spend_limit": -1}, ValueError, "spend_limit must be a number of credit units"),
        ({"min_credit": True}, ValueError, "min_credit must be a number of credit units"),
        ({"max_concurrency": 0}, ValueError, "max_concurrency must be at least 1"),
        ({"rate_limit": 0}, ValueError, "rate_limit must be more than 0"),
        ({"verify": "yes"}, TypeError, "verify must be True, False or an ssl.SSLContext"),
        ({"proxy": 3128}, TypeError, "proxy must be a URL string"),
        ({"verify": False, "http_client": httpx2.AsyncClient()}, ValueError, "own http_client"),
    ],
)
def test_what_copies_share_is_checked_before_anything_is_opened(
    kwargs: dict[str, Any], error: type[Exception], words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []
    real = httpx2.AsyncClient.__init__

    def spy(self: httpx2.AsyncClient, *args: Any, **options: Any) -> None:
        opened.append(self)
        real(self, *args, **options)

    monkeypatch.setattr(httpx2.AsyncClient, "__init__", spy)
    with pytest.raises(error, match=words):
        AsyncVoipano(TOKEN, **kwargs)
    assert opened == []
