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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

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

    def take_new(self, reports: Sequence[CallReport]) -> list[CallReport]:
        """The reports whose ids are not remembered (the first of each), now remembered.

        One pass over a page; the new generation may pass ``size`` by a page's ids
        before it turns old.
        """
        new, old = self._new, self._old
        fresh = []
        for report in reports:
            key = report.id
            if key not in new and key not in old:
                new.add(key)
                fresh.append(report)
        if len(new) >= self.size:
            self._old, self._new = new, set()
        return fresh

    def __len__(self) -> int:
        return len(self._new) + len(self._old)


def remembered(concurrency: int, per_page: int) -> int:
    """How many recent ids a walk remembers: every report of the batch being fetched and
    of the one before (a page shifted by new calls repeats reports of the pages just
    before it), never fewer than ``_MIN_REMEMBERED``."""
    return max(_MIN_REMEMBERED, 2 * _BATCH_ROUNDS * concurrency * per_page)


def _ends_asking(page: CallReportsPage, number: int) -> bool:
    """Whether no page after ``page`` (asked for as ``number``) is worth asking for in its
    batch: a server not paging (told when the batch is taken), or the end of the list."""
    return page.pagination.page != number or not page.items


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
        # Pages ready, each with its reports not seen earlier in the walk.
        self._ready: deque[tuple[CallReportsPage, list[CallReport]]] = deque()
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
        # The reports of the page last handed out that the walk had not seen before.
        self.fresh: list[CallReport] = []

    def __aiter__(self) -> _PageWalker:
        return self

    async def __anext__(self) -> CallReportsPage:
        if not self._ready:
            await self._fill()
        if not self._ready:
            raise StopAsyncIteration
        page, self.fresh = self._ready.popleft()
        return page

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
        # The pages fetched, from the first on (a page that stopped the window may be
        # fetched again and be right: the walk goes on after it, not after the window).
        self._next = numbers[0] + len(pages)
        await self._take(numbers, pages)

    async def _first(self) -> None:
        """The first page; in a whole walk, the first batch beside it.

        A whole walk asks for the rest of the first window with page 1, before
        ``last_page`` is known, and slides on from there as one batch (no wait for the
        whole window before the next pages go out); pages after that window wait for
        page 1's ``last_page``. Pages past it that were asked for blind are dropped,
        their errors with them.
        """
        start = self._start
        if self._whole and self._concurrency > 1:
            found = await self._fetch_first(start)
        else:
            found = [await self._fetch(start)]
        head = found[0]
        if isinstance(head, BaseException):
            raise head
        page, fresh = head, self._check(start, head)
        self._next = start + 1
        self._last = page.pagination.last_page
        self._total = page.pagination.total
        self._per_page = page.pagination.per_page or len(page.items)
        self._seen.size = self.remembered
        self._done = not page.items
        self._ready.append((page, fresh))
        if self._done:
            return
        pages = []
        for number, result in enumerate(found[1:], start + 1):
            if number > self._last:
                break
            if isinstance(result, Exception):
                # The earliest page's error, as a walk page by page meets it: raised once
                # the pages before it are yielded.
                self._failed = result
                break
            pages.append(result)
        if pages:
            self._next = start + 1 + len(pages)
            try:
                await self._take(range(start + 1, self._next), pages)
            except Exception as exc:
                self._failed = exc

    async def _fetch_first(self, start: int) -> list[CallReportsPage | Exception]:
        """Pages from ``start`` on, up to a batch, ``concurrency`` at a time: the first
        window at once, the next page as each answers, within page 1's ``last_page``.

        Each page's answer or error, in order, up to the first error after page 1 (or
        page 1's own); a missing page (past ``last_page``, or not asked) ends the list.
        """
        window = self._concurrency
        size = window * _BATCH_ROUNDS
        found: list[CallReportsPage | Exception | None] = [None] * size
        head_known = anyio.Event()
        bound = [start + window - 1]  # the last page worth asking for, once page 1 tells
        stop = [size]  # no page from this index on is asked for (one failed before it)
        queue = iter(range(size))

        async def worker() -> None:
            for index in queue:
                if index >= window and not head_known.is_set():
                    await head_known.wait()  # (once it is, no trip through the loop)
                if index >= stop[0] or start + index > bound[0]:
                    return
                try:
                    found[index] = result = await self._fetch(start + index)
                except Exception as exc:  # told once last_page says whether it matters
                    found[index] = exc
                    if index < stop[0]:
                        stop[0] = index
                    if index == 0:
                        head_known.set()
                    return
                if _ends_asking(result, start + index):
                    stop[0] = min(stop[0], index + 1)
                if index == 0:
                    bound[0] = start + max(result.pagination.last_page - start, window - 1)
                    head_known.set()

        async with anyio.create_task_group() as group:
            for _ in range(window):
                group.start_soon(worker)
        pages: list[CallReportsPage | Exception] = []
        for result in found:
            if result is None:
                break
            pages.append(result)
            if isinstance(result, Exception):
                break
        return pages

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
            fresh = self._check(number, page)
            self._total = max(self._total, page.pagination.total)
            if not page.items:
                # The list shrank while we walked it: nothing lies beyond an empty page.
                self._done = True
                break
            self._last = max(self._last, page.pagination.last_page)
            self._ready.append((page, fresh))

    def _check(self, number: int, page: CallReportsPage) -> list[CallReport]:
        """Refuse a page that is not the one asked for, or the same reports again and again.

        Returns the page's reports not seen earlier in the walk (for the item iterator).
        """
        if page.pagination.page != number:
            raise _not_advancing(
                f"asked for page {number}, the server answered page {page.pagination.page}"
            )
        fresh = self._seen.take_new(page.items)
        if page.items and not fresh:
            self._stale += 1
            if self._stale >= _STALE_PAGES:
                raise _not_advancing(
                    f"pages {number - self._stale + 1}-{number} held only reports already seen"
                )
        else:
            self._stale = 0
        return fresh

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
        stop = [len(numbers)]  # no page from this index on is asked for

        async def worker() -> None:
            for index in queue:
                if index >= stop[0]:
                    return
                try:
                    pages[index] = page = await self._fetch(numbers[index])
                    if _ends_asking(page, numbers[index]):
                        stop[0] = min(stop[0], index + 1)
                except Exception as exc:
                    # The error of the earliest page wins, as a walk one page at a time
                    # would have met it.
                    group.fail(exc, order=index)
                    return

        async with FirstErrorGroup() as group:
            for _ in range(min(self._concurrency, len(numbers))):
                group.start_soon(worker)
        fetched = []
        for page in pages:
            if page is None:
                break
            fetched.append(page)
        return fetched


class _ItemIterator:
    def __init__(self, walker: _PageWalker, max_items: int | None) -> None:
        self._walker = walker
        self._max_items = max_items
        self._yielded = 0
        self._items: deque[CallReport] = deque()

    def __aiter__(self) -> _ItemIterator:
        return self

    async def __anext__(self) -> CallReport:
        items = self._items
        if items and (self._max_items is None or self._yielded < self._max_items):
            self._yielded += 1
            return items.popleft()
        while True:
            if self._max_items is not None and self._yielded >= self._max_items:
                raise StopAsyncIteration
            if items:
                self._yielded += 1
                return items.popleft()
            if self._max_items is not None:
                self._walker.items_wanted = self._max_items - self._yielded
            await self._walker.__anext__()
            # A report already yielded (pages shift while we walk) was dropped as its
            # page was checked, so handing out a report is one step.
            items.extend(self._walker.fresh)


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
