"""Auto-paging over call reports, fetching later pages concurrently, yielding in order.

Each batch of concurrent page fetches starts and finishes inside one ``__anext__`` call,
so no task group is ever open across a ``yield`` to the caller: breaking out of
``async for`` early leaves nothing running and nothing to clean up.

Within a batch the window slides: ``concurrency`` fetches are in flight and a new one
starts as soon as any finishes, so decoding one page overlaps the network wait of the
others. A batch holds up to ``_BATCH_ROUNDS`` times ``concurrency`` pages: large enough
that the pause where a batch drains is rare, small enough to bound memory and what an
early ``break`` leaves unread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from ._exceptions import UnexpectedResponseError
from ._models import CallReport, CallReportsPage
from ._taskgroup import FirstErrorGroup

__all__ = ["CallReportPager"]

FetchPage = Callable[[int], Awaitable[CallReportsPage]]
# How often a page answered out of step with the growing list is fetched again.
_REFETCHES = 3
_BATCH_ROUNDS = 8
# Pages in a row that bring no report the walk has not seen: the server is not advancing
# (it ignores ``page``), and trusting ``last_page`` would request forever.
_STALE_PAGES = 3


# The fewest report ids a walk remembers, whatever its page size and concurrency.
_MIN_REMEMBERED = 1_000


class _RecentIds:
    """The ids of a walk's latest reports: at least the last ``size``, at most twice as
    many, so that a walk's memory does not grow with its length.

    Two generations of sets: ids go into the new one; once it holds ``size``, it becomes
    the old one and the one before is dropped. Membership is two set lookups.
    """

    __slots__ = ("_new", "_old", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._new: set[str] = set()
        self._old: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._new or key in self._old

    def add(self, key: str) -> None:
        new = self._new
        new.add(key)
        if len(new) >= self.size:
            self._old, self._new = new, set()

    def holds_all(self, keys: set[str]) -> bool:
        return all(key in self._new or key in self._old for key in keys)

    def __len__(self) -> int:
        return len(self._new) + len(self._old)


def remembered(concurrency: int, per_page: int) -> int:
    """How many recent ids a walk remembers: every report of the batch being fetched and
    of the one before (a page shifted by new calls repeats reports of the pages just
    before it), never fewer than ``_MIN_REMEMBERED``."""
    return max(_MIN_REMEMBERED, 2 * _BATCH_ROUNDS * concurrency * per_page)


def _not_advancing(detail: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        f"the call reports walk stopped: {detail}; the server is not paging as it says "
        "(last_page), so going on would request forever",
        status_code=200,
        problems=[detail],
    )


class _PageWalker:
    """Walks pages start..last_page; after the first, fetches ``concurrency`` at a time."""

    def __init__(
        self, fetch: FetchPage, concurrency: int, start: int = 1, *, whole: bool = False
    ) -> None:
        self._fetch = fetch
        self._concurrency = concurrency
        # The walk is known to go to the end (no max_items): the first window is fetched
        # beside the first page, before last_page is known.
        self._whole = whole
        self._ready: deque[CallReportsPage] = deque()
        self._start = start
        self._next = start
        self._last = start
        self._per_page = 0
        self._total = 0
        self._done = False
        self._failed: Exception | None = None
        self._seen = _RecentIds(_MIN_REMEMBERED)
        self._stale = 0
        # Set by the item iterator: how many more items it wants (None: all of them).
        self.items_wanted: int | None = None

    def __aiter__(self) -> _PageWalker:
        return self

    async def __anext__(self) -> CallReportsPage:
        if not self._ready:
            await self._fill()
        if not self._ready:
            raise StopAsyncIteration
        return self._ready.popleft()

    async def _fill(self) -> None:
        if self._failed is not None:
            # A page of the first window failed: the pages before it were yielded first.
            failed, self._failed = self._failed, None
            self._done = True
            raise failed
        if self._done:
            return
        if self._next == self._start:
            await self._first()
            return
        if self._next > self._last:
            self._done = True
            return
        numbers = range(self._next, min(self._last, self._next + self._window() - 1) + 1)
        pages = await self._fetch_window(numbers)
        self._next = numbers[-1] + 1
        await self._take(numbers, pages)

    async def _first(self) -> None:
        """The first page, and in a whole walk the rest of the first window beside it."""
        start = self._start
        ahead = self._concurrency - 1 if self._whole else 0
        if ahead:
            numbers = range(start, start + 1 + ahead)
            found = await self._fetch_first(numbers)
        else:
            numbers, found = range(start, start + 1), [await self._fetch(start)]
        head = found[0]
        if isinstance(head, BaseException):
            raise head
        page = self._check(start, head)
        self._next = start + 1
        self._last = page.pagination.last_page
        self._total = page.pagination.total
        self._per_page = page.pagination.per_page or len(page.items)
        self._seen.size = self.remembered
        self._done = not page.items
        self._ready.append(page)
        if self._done:
            return
        # Pages past last_page were asked for blind: dropped, their errors with them.
        wanted = [n for n in numbers[1:] if n <= self._last]
        pages = []
        for result in found[1 : 1 + len(wanted)]:
            if isinstance(result, Exception):
                # The earliest page's error, as a walk page by page meets it: raised once
                # the pages before it are yielded.
                self._failed = result
                break
            pages.append(result)
        if pages:
            self._next = wanted[0] + len(pages)
            try:
                await self._take(range(wanted[0], self._next), pages)
            except Exception as exc:
                self._failed = exc

    async def _fetch_first(self, numbers: range) -> list[CallReportsPage | Exception]:
        found: list[CallReportsPage | Exception | None] = [None] * len(numbers)

        async def fetch(index: int) -> None:
            try:
                found[index] = await self._fetch(numbers[index])
            except Exception as exc:  # told once last_page says whether it matters
                found[index] = exc

        async with anyio.create_task_group() as group:
            for index in range(len(numbers)):
                group.start_soon(fetch, index)
        return [result for result in found if result is not None]

    async def _take(self, numbers: range, pages: list[CallReportsPage]) -> None:
        """Pages fetched together, in order: refetched when answered out of step with
        the growing list, checked, and made ready until the first empty one."""
        for number, page in zip(numbers, pages, strict=False):
            # New calls are added at the top, pushing every report down. A page answered
            # before a push that its predecessor already saw (a smaller total) leaves a
            # gap between them; fetching it again closes the gap. Duplicates the push
            # causes are dropped by the item iterator.
            for _ in range(_REFETCHES):
                if page.pagination.total >= self._total:
                    break
                page = await self._fetch(number)
            self._check(number, page)
            self._total = max(self._total, page.pagination.total)
            if not page.items:
                # The list shrank while we walked it: nothing lies beyond an empty page.
                self._done = True
                break
            self._last = max(self._last, page.pagination.last_page)
            self._ready.append(page)

    def _check(self, number: int, page: CallReportsPage) -> CallReportsPage:
        """Refuse a page that is not the one asked for, or the same reports again and again."""
        if page.pagination.page != number:
            raise _not_advancing(
                f"asked for page {number}, the server answered page {page.pagination.page}"
            )
        ids = {report.id for report in page.items}
        if ids and self._seen.holds_all(ids):
            self._stale += 1
            if self._stale >= _STALE_PAGES:
                raise _not_advancing(
                    f"pages {number - self._stale + 1}-{number} held only reports already seen"
                )
        else:
            self._stale = 0
        for id_ in ids:
            self._seen.add(id_)
        return page

    @property
    def remembered(self) -> int:
        """How many recent report ids this walk keeps (see ``remembered``)."""
        return remembered(self._concurrency, max(self._per_page, 1))

    def _window(self) -> int:
        size = self._concurrency * _BATCH_ROUNDS
        if self.items_wanted is not None and self._per_page > 0:
            size = min(size, -(-self.items_wanted // self._per_page))
        return max(1, size)

    async def _fetch_window(self, numbers: range) -> list[CallReportsPage]:
        if len(numbers) == 1:
            return [await self._fetch(numbers[0])]
        pages: list[CallReportsPage | None] = [None] * len(numbers)
        queue = iter(range(len(numbers)))  # shared: each worker takes the next page

        async def worker() -> None:
            for index in queue:
                try:
                    pages[index] = await self._fetch(numbers[index])
                except Exception as exc:
                    # The error of the earliest page wins, as a walk one page at a time
                    # would have met it.
                    group.fail(exc, order=index)
                    return

        async with FirstErrorGroup() as group:
            for _ in range(min(self._concurrency, len(numbers))):
                group.start_soon(worker)
        return [page for page in pages if page is not None]


class _ItemIterator:
    def __init__(self, walker: _PageWalker, max_items: int | None) -> None:
        self._walker = walker
        self._max_items = max_items
        self._yielded = 0
        # What a shifting page can repeat: the ids of the latest reports, not of all.
        self._seen = _RecentIds(_MIN_REMEMBERED)
        self._items: deque[CallReport] = deque()

    def __aiter__(self) -> _ItemIterator:
        return self

    async def __anext__(self) -> CallReport:
        while True:
            if self._max_items is not None and self._yielded >= self._max_items:
                raise StopAsyncIteration
            items, seen = self._items, self._seen
            while items:
                report = items.popleft()
                if report.id in seen:
                    continue  # pages shifted while we walked: already yielded
                seen.add(report.id)
                self._yielded += 1
                return report
            if self._max_items is not None:
                self._walker.items_wanted = self._max_items - self._yielded
            page = await self._walker.__anext__()
            seen.size = self._walker.remembered
            items.extend(page.items)


class CallReportPager:
    """Every call report, page after page: ``async for report in client.call_reports():``.

    After the first page tells ``last_page``, the following pages are fetched
    ``concurrency`` at a time and yielded in page order. A report already yielded in the
    same walk is skipped (pages shift as new calls arrive): the walk remembers the ids of
    the latest reports (those of the last ``16 * concurrency`` pages, at least 1,000),
    not of all, so its memory stays flat however long it is; a report repeated from
    further back than that is yielded again. Each ``async for`` starts a new walk from
    the first page (``start_page``, 1 unless given).
    [`pages`][voipano_async.CallReportPager.pages] walks the pages themselves.

    Examples:
        >>> async for report in client.call_reports(has_recording=True, concurrency=8):
        ...     await client.download_call_recording(report, "recordings/")
    """

    def __init__(
        self, fetch: FetchPage, *, concurrency: int, max_items: int | None, start_page: int = 1
    ) -> None:
        self._fetch = fetch
        self._concurrency = concurrency
        self._max_items = max_items
        self._start = start_page

    def __repr__(self) -> str:
        return (
            f"CallReportPager(concurrency={self._concurrency}, max_items={self._max_items}, "
            f"start_page={self._start})"
        )

    def __aiter__(self) -> AsyncIterator[CallReport]:
        whole = self._max_items is None
        walker = _PageWalker(self._fetch, self._concurrency, self._start, whole=whole)
        return _ItemIterator(walker, self._max_items)

    def pages(self) -> AsyncIterator[CallReportsPage]:
        """Walk the pages instead of the reports.

        Yields [`CallReportsPage`][voipano_async.CallReportsPage] objects.
        """
        return _PageWalker(
            self._fetch, self._concurrency, self._start, whole=self._max_items is None
        )
