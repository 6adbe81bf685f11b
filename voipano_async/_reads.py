"""The free endpoints of ``AsyncVoipano`` (the reads): every method that charges nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack
from urllib.parse import quote

from . import _config
from ._models import CallReport, CallReportsPage, ServiceList, VoicemailInboxes
from ._options import parse_options
from ._pager import CallReportPager
from ._streams import AudioStreamContext, StrPath
from ._transport import Transport
from ._types import ReadOptions

__all__ = ["Reads"]


def _segment(value: str | CallReport, name: str) -> str:
    """Percent-encode a path parameter so that no value can change the path."""
    if isinstance(value, CallReport):
        value = value.call_details_record_id
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    encoded = quote(value, safe="")
    # "." and ".." are dot-segments that URL normalisation would remove.
    return encoded.replace(".", "%2E") if encoded in {".", ".."} else encoded


class Reads:
    """The reads, mixed into ``AsyncVoipano``."""

    _transport: Transport

    async def call_reports_page(
        self,
        page: int = 1,
        *,
        per_page: int | None = None,
        has_recording: bool | None = None,
        **options: Unpack[ReadOptions],
    ) -> CallReportsPage:
        """Fetch one page of call reports (pages count from 1).

        Args:
            page: The page number.
            per_page: The page size, sent as the API's ``limit``.
            has_recording: Only calls with (``True``) or without (``False``) a recording.
            **options: Per-call [options][voipano_async.ReadOptions]; ``extra_query`` sends
                filters the published page does not list yet (e.g. date ranges).

        Examples:
            >>> page = await client.call_reports_page(2, per_page=50)
            >>> page.pagination.last_page
        """
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValueError("page must be a whole number; pages start at 1")
        params: dict[str, Any] = {"page": page}
        if per_page is not None:
            if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
                raise ValueError("per_page must be a whole number, at least 1")
            params["limit"] = per_page
        if has_recording is not None:
            params["has_recording"] = int(has_recording)
        return await self._transport.request(
            "GET",
            "/call-reports",
            CallReportsPage,
            params=params,
            options=options,
            operation="call_reports_page",
        )

    def call_reports(
        self,
        *,
        per_page: int | None = None,
        has_recording: bool | None = None,
        concurrency: int = _config.DEFAULT_CONCURRENCY,
        max_items: int | None = None,
        start_page: int = 1,
        **options: Unpack[ReadOptions],
    ) -> CallReportPager:
        """Every call report, across all pages, fetched a few pages ahead as you iterate.

        Args:
            per_page: The page size, sent as the API's ``limit``.
            has_recording: Only calls with (``True``) or without (``False``) a recording.
            concurrency: Pages fetched at once after the first (default 4; 1 is sequential).
            max_items: Stop after this many reports.
            start_page: The page to start from (default 1), to resume a walk that
                failed: pages before it are not fetched.

        Reports come in page order; one already seen in the same walk is skipped.
        ``.pages()`` walks the [`CallReportsPage`][voipano_async.CallReportsPage] objects instead.

        Examples:
            >>> async for report in client.call_reports(has_recording=True):
            ...     print(report.id, report.call_source)
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError("concurrency must be a whole number, at least 1")
        if per_page is not None and (
            isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1
        ):
            raise ValueError("per_page must be a whole number, at least 1")
        if max_items is not None and max_items < 0:
            raise ValueError("max_items must not be negative")
        if isinstance(start_page, bool) or not isinstance(start_page, int) or start_page < 1:
            raise ValueError("start_page must be a whole number; pages start at 1")
        parse_options(options, body=False)  # a bad option fails here, not at the first page

        async def fetch(page: int) -> CallReportsPage:
            return await self.call_reports_page(
                page,
                per_page=per_page,
                has_recording=has_recording,
                **options,
            )

        return CallReportPager(
            fetch, concurrency=concurrency, max_items=max_items, start_page=start_page
        )

    async def services(
        self,
        **options: Unpack[ReadOptions],
    ) -> ServiceList:
        """List the account's service subscriptions.

        Examples:
            >>> for service in (await client.services()).items:
            ...     print(service.phone_number, service.remaining_days)
        """
        return await self._transport.request(
            "GET", "/services", ServiceList, options=options, operation="services"
        )

    async def voicemail_inboxes(
        self,
        *,
        context: str | None = None,
        limit: int | None = None,
        **options: Unpack[ReadOptions],
    ) -> VoicemailInboxes:
        """List voicemail inboxes, optionally of one ``context``.

        Raises:
            PermissionDeniedError: ``context`` is not one of the token's allowed contexts.

        Examples:
            >>> inboxes = await client.voicemail_inboxes(context="voicemail-02191010001")
        """
        params: dict[str, Any] = {}
        if context is not None:
            params["context"] = context
        if limit is not None:
            params["limit"] = limit
        return await self._transport.request(
            "GET",
            "/voicemail-inboxes",
            VoicemailInboxes,
            params=params,
            options=options,
            operation="voicemail_inboxes",
        )

    # -- recordings -------------------------------------------------------------------------

    def stream_call_recording(
        self,
        cdr_id: str | CallReport,
        **options: Unpack[ReadOptions],
    ) -> AudioStreamContext:
        """Open a call's recording as a stream, to read in chunks inside a ``with`` block.

        Args:
            cdr_id: The call's ``call_details_record_id``, or its
                [`CallReport`][voipano_async.CallReport].
                The recording is fetched from the configured API host by id; a report's
                ``recording_url`` is never followed with the token.

        Examples:
            >>> async with client.stream_call_recording(report) as audio:
            ...     async for chunk in audio.aiter_bytes():
            ...         sink.write(chunk)
        """
        return self._recording(cdr_id, options, "stream_call_recording")

    def stream_voicemail_recording(
        self,
        unique_id: str,
        *,
        context: str,
        mailbox: str,
        **options: Unpack[ReadOptions],
    ) -> AudioStreamContext:
        """Open a voicemail message as a stream, to read in chunks inside a ``with`` block.

        Args:
            unique_id: The message's id, e.g. ``"1739558127.155"``.
            context: The voicemail context, e.g. ``"voicemail-02191010001"``.
            mailbox: The mailbox, e.g. ``"1001"``.
        """
        return self._voicemail(unique_id, context, mailbox, options, "stream_voicemail_recording")

    def _recording(
        self, cdr_id: str | CallReport, options: Mapping[str, Any], operation: str
    ) -> AudioStreamContext:
        segment = _segment(cdr_id, "cdr_id")
        cdr = cdr_id.call_details_record_id if isinstance(cdr_id, CallReport) else cdr_id
        return self._stream(
            (f"/call-recordings/{segment}", "/call-recordings/{cdr_id}", operation),
            {"call_details_record_id": cdr},
            options,
            fallback_name=f"recording-{cdr}.wav",
        )

    def _voicemail(
        self,
        unique_id: str,
        context: str,
        mailbox: str,
        options: Mapping[str, Any],
        operation: str,
    ) -> AudioStreamContext:
        segment = _segment(unique_id, "unique_id")
        return self._stream(
            (f"/voicemail-recordings/{segment}", "/voicemail-recordings/{unique_id}", operation),
            {"context": context, "mailbox": mailbox},
            options,
            fallback_name=f"voicemail-{unique_id}.wav",
        )

    def _stream(
        self,
        where: tuple[str, str, str],
        params: dict[str, Any],
        options: Mapping[str, Any],
        *,
        fallback_name: str,
    ) -> AudioStreamContext:
        """``where``: the path, the endpoint it stands for (no ids), the public method."""
        transport = self._transport
        path, endpoint, operation = where
        return AudioStreamContext(
            lambda: transport.open_stream(
                path, params=params, options=options, operation=operation, endpoint=endpoint
            ),
            fallback_name=fallback_name,
        )

    async def download_call_recording(
        self,
        cdr_id: str | CallReport,
        dest: StrPath,
        **options: Unpack[ReadOptions],
    ) -> Path:
        """Save a call's recording to ``dest`` (a directory or a file path); return the path.

        The file appears only once complete: a failed download leaves nothing behind.

        Examples:
            >>> path = await client.download_call_recording(report, "recordings/")
        """
        async with self._recording(cdr_id, options, "download_call_recording") as audio:
            return await audio.save(dest)

    async def download_voicemail_recording(
        self,
        unique_id: str,
        dest: StrPath,
        *,
        context: str,
        mailbox: str,
        **options: Unpack[ReadOptions],
    ) -> Path:
        """Save a voicemail message to ``dest`` (a directory or a file path); return the path.

        Examples:
            >>> await client.download_voicemail_recording(
            ...     "1739558127.155", "voicemail/", context="voicemail-02191010001",
            ...     mailbox="1001")
        """
        stream = self._voicemail(
            unique_id, context, mailbox, options, "download_voicemail_recording"
        )
        async with stream as audio:
            return await audio.save(dest)
