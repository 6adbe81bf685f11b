"""Auto-paging over call reports: every report once, in page order, fetched concurrently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest
import respx

from voipano_async import AsyncVoipano, CallReportsPage, ServerError

from . import samples

pytestmark = pytest.mark.anyio


class Reports:
    """A fake call-reports endpoint over a list of report numbers, paged like Laravel."""

    def __init__(self, total: int, per_page: int = 10) -> None:
        self.numbers = list(range(1, total + 1))
        self.per_page = per_page
        self.requested: list[int] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.before_answer: Callable[[int], Any] | None = None

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        page = int(request.url.params["page"])
        per_page = int(request.url.params.get("limit", self.per_page))
        self.requested.append(page)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.before_answer is not None:
                await self.before_answer(page)
            await anyio.lowlevel.checkpoint()
        finally:
            self.in_flight -= 1
        start = (page - 1) * per_page
        ids = self.numbers[start : start + per_page]
        return httpx2.Response(
            200,
            json=samples.reports_page(ids, page=page, per_page=per_page, total=len(self.numbers)),
        )


def ids(numbers: range | list[int]) -> list[str]:
    return [f"r{n:06d}" for n in numbers]


async def test_single_page(api: respx.MockRouter, client: AsyncVoipano) -> None:
    reports = Reports(total=7)
    api.get("/call-reports").mock(side_effect=reports)

    got = [report.id async for report in client.call_reports()]

    assert got == ids(range(1, 8))
    # A walk to the end asks for its first window beside page 1 (concurrency 4): the
    # pages past last_page came back empty and were dropped.
    assert sorted(reports.requested) == [1, 2, 3, 4]


async def test_a_walk_with_max_items_asks_for_page_one_alone(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=7)
    api.get("/call-reports").mock(side_effect=reports)

    got = [report.id async for report in client.call_reports(max_items=5)]

    assert got == ids(range(1, 6))
    assert reports.requested == [1]


async def test_many_pages_in_order_each_fetched_once(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=95)
    route = api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(per_page=10, has_recording=True, concurrency=3)]

    assert got == ids(range(1, 96))
    assert sorted(reports.requested) == list(range(1, 11))
    assert sorted(reports.requested[:3]) == [1, 2, 3]  # the first window, together
    assert all(call.request.url.params["has_recording"] == "1" for call in route.calls)


async def test_later_pages_are_fetched_concurrently(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=100)
    arrived = {page: anyio.Event() for page in (4, 5, 6)}

    async def wait_for_the_whole_window(page: int) -> None:
        # Pages 4-6 (after the first window, 1-3) answer only once all three have been
        # asked for: a sequential pager would never get past page 4.
        if page in arrived:
            arrived[page].set()
            for event in arrived.values():
                await event.wait()

    reports.before_answer = wait_for_the_whole_window
    api.get("/call-reports").mock(side_effect=reports)

    with anyio.fail_after(10):
        got = [r.id async for r in client.call_reports(concurrency=3)]

    assert got == ids(range(1, 101))
    assert reports.most_in_flight == 3


async def test_a_whole_walk_slides_on_from_page_one_without_waiting_for_its_window(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=100)
    page_4_asked = anyio.Event()

    async def hold_page_2(page: int) -> None:
        # Page 2 (of the first window, 1-3) answers only once page 4 has been asked for:
        # a walk that waits for its whole first window before going on never gets there.
        if page == 4:
            page_4_asked.set()
        if page == 2:
            await page_4_asked.wait()

    reports.before_answer = hold_page_2
    api.get("/call-reports").mock(side_effect=reports)

    with anyio.fail_after(10):
        got = [r.id async for r in client.call_reports(concurrency=3)]

    assert got == ids(range(1, 101))
    assert sorted(reports.requested) == list(range(1, 11))
    assert reports.most_in_flight == 3


async def test_pages_after_the_first_window_wait_for_page_one_s_last_page(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=25)  # 3 pages of 10
    others_asked: list[int] = []
    window_asked = anyio.Event()

    async def hold_page_1(page: int) -> None:
        if page in (2, 3, 4) and len(reports.requested) == 4:
            window_asked.set()
        if page == 1:
            # The rest of the window (2-4) answers first, and its workers get every
            # chance to ask for more before page 1 answers.
            await window_asked.wait()
            for _ in range(50):
                await anyio.lowlevel.checkpoint()
            others_asked.extend(reports.requested)

    reports.before_answer = hold_page_1
    api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(concurrency=4)]

    assert got == ids(range(1, 26))
    # Until page 1 told last_page (3), only the blind first window (1-4) was asked for,
    # and nothing past it afterwards.
    assert sorted(others_asked) == [1, 2, 3, 4]
    assert sorted(reports.requested) == [1, 2, 3, 4]


@pytest.mark.parametrize(("pages", "concurrency"), [(1, 4), (2, 4), (7, 3), (40, 4), (75, 8)])
async def test_a_walk_asks_for_each_page_once_within_its_concurrency(
    api: respx.MockRouter, client: AsyncVoipano, pages: int, concurrency: int
) -> None:
    reports = Reports(total=pages * 10)
    api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(concurrency=concurrency)]

    assert got == ids(range(1, pages * 10 + 1))
    # The first window is asked for beside page 1, before last_page is known: a walk
    # shorter than it asks for its pages and for the empty ones after them, once each.
    asked = max(pages, concurrency)
    assert len(reports.requested) == asked
    assert sorted(reports.requested) == list(range(1, asked + 1))
    assert reports.most_in_flight <= concurrency
    assert reports.in_flight == 0


async def test_concurrency_one_is_sequential(api: respx.MockRouter, client: AsyncVoipano) -> None:
    reports = Reports(total=50)
    api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(concurrency=1)]

    assert got == ids(range(1, 51))
    assert reports.requested == [1, 2, 3, 4, 5]
    assert reports.most_in_flight == 1


async def test_empty(api: respx.MockRouter, client: AsyncVoipano) -> None:
    reports = Reports(total=0)
    api.get("/call-reports").mock(side_effect=reports)

    assert [r async for r in client.call_reports()] == []
    pages = [page async for page in client.call_reports().pages()]
    assert len(pages) == 1
    assert pages[0].pagination.total == 0
    assert sorted(reports.requested) == [1, 1, 2, 2, 3, 3, 4, 4]  # two first windows


async def test_pages(api: respx.MockRouter, client: AsyncVoipano) -> None:
    api.get("/call-reports").mock(side_effect=Reports(total=25))

    pages = [page async for page in client.call_reports(concurrency=2).pages()]

    assert all(isinstance(page, CallReportsPage) for page in pages)
    assert [page.pagination.page for page in pages] == [1, 2, 3]
    assert [len(page.items) for page in pages] == [10, 10, 5]


async def test_shifted_pages_do_not_repeat_reports(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=30)

    async def new_calls_arrive(page: int) -> None:
        if page == 3 and reports.numbers[0] == 1:
            # Two new calls land at the top after pages 1-2 (the first window) were read:
            # everything shifts by 2.
            reports.numbers[:0] = [1001, 1002]

    reports.before_answer = new_calls_arrive
    api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(concurrency=2)]

    # Pages 1-2 came before the shift, 3-4 after it: reports 19 and 20 are on the
    # server's pages 2 and 3 but are yielded once, and the walk runs on to page 4.
    assert got == ids(range(1, 31))
    assert len(got) == len(set(got))
    assert sorted(reports.requested) == [1, 2, 3, 4]


async def test_last_page_growing_during_the_walk(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=20)

    async def more_calls(page: int) -> None:
        if page == 2:
            reports.numbers.extend(range(21, 36))

    reports.before_answer = more_calls
    api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(concurrency=1)]

    assert got == ids(range(1, 36))


async def test_list_shrinking_stops_at_the_empty_page(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=40)

    async def calls_deleted(page: int) -> None:
        if page == 1:
            del reports.numbers[25:]

    reports.before_answer = calls_deleted
    api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(concurrency=4)]

    assert got == ids(range(1, 26))


async def test_early_break_leaves_client_usable(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=1000)
    api.get("/call-reports").mock(side_effect=reports)

    got = []
    async for report in client.call_reports(concurrency=2):
        got.append(report.id)
        if len(got) == 15:
            break

    assert got == ids(range(1, 16))
    # What was fetched ahead is a run of pages from the first, each asked for once, never
    # more than two at a time, and far from the whole list; nothing runs on after the break.
    fetched = sorted(reports.requested)
    assert fetched == list(range(1, len(fetched) + 1))
    assert 2 <= len(fetched) < 100
    assert reports.most_in_flight <= 2
    assert reports.in_flight == 0
    for _ in range(20):
        await anyio.lowlevel.checkpoint()
    assert sorted(reports.requested) == fetched
    page = await client.call_reports_page(20)
    assert page.items[0].id == "r000191"


async def test_max_items_stops_without_overfetching(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=500)
    api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(concurrency=8, max_items=25)]

    assert got == ids(range(1, 26))
    assert sorted(reports.requested) == [1, 2, 3]


async def test_each_walk_starts_from_page_one(api: respx.MockRouter, client: AsyncVoipano) -> None:
    api.get("/call-reports").mock(side_effect=Reports(total=12))
    pager = client.call_reports()
    first = [r.id async for r in pager]
    second = [r.id async for r in pager]
    assert first == second == ids(range(1, 13))


async def test_a_failing_page_raises_its_own_error(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=100)

    def answer(request: httpx2.Request) -> Any:
        if request.url.params["page"] == "5":
            return httpx2.Response(500, json={"ok": False, "message": "خطای سرور"})
        return reports(request)

    api.get("/call-reports").mock(side_effect=answer)

    got: list[str] = []

    async def walk() -> None:
        async for report in client.call_reports(concurrency=4):
            got.append(report.id)

    with pytest.raises(ServerError, match="خطای سرور"):
        await walk()

    # The first window (pages 1-4) is yielded; the next one fails as a whole, with
    # page 5's own error.
    assert got == ids(range(1, 41))
    page = await client.call_reports_page(2)
    assert len(page.items) == 10


@pytest.mark.parametrize("kwargs", [{"concurrency": 0}, {"max_items": -1}])
def test_bad_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must"):
        AsyncVoipano("token-0123456789").call_reports(**kwargs)


async def test_pages_answered_out_of_step_with_new_calls_leave_no_gap(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=40)
    page_four_answered = anyio.Event()
    fetched: list[int] = []

    async def race(page: int) -> None:
        fetched.append(page)
        if page == 3 and fetched.count(3) == 1:
            # Page 4 is answered first; then three calls arrive, then page 3 is answered.
            await page_four_answered.wait()
            reports.numbers[:0] = [1001, 1002, 1003]

    original = reports.__call__

    async def answer(request: httpx2.Request) -> httpx2.Response:
        response = await original(request)
        if request.url.params["page"] == "4":
            page_four_answered.set()
        return response

    reports.before_answer = race
    api.get("/call-reports").mock(side_effect=answer)

    with anyio.fail_after(10):
        got = [r.id async for r in client.call_reports(concurrency=2)]

    # Page 4 answered before the three new calls, page 3 after them: without fetching
    # page 4 again, reports 28-30 would fall between pages 3 and 4.
    assert got == ids(range(1, 41))
    assert fetched.count(4) == 2, fetched


@pytest.mark.parametrize("number", [5, 20])
async def test_a_stale_page_fetched_again_right_loses_no_page_after_it(
    api: respx.MockRouter, client: AsyncVoipano, number: int
) -> None:
    # A page (of the first batch, or of the second at concurrency 2) first comes back as
    # a stale copy of page 1 with a smaller total, as from a cache: the pages after it are
    # not asked for then, it is fetched again, right, and the walk must go on after it.
    reports = Reports(total=300)
    stale = {"left": 1}

    def answer(request: httpx2.Request) -> Any:
        if request.url.params["page"] == str(number) and stale["left"]:
            stale["left"] -= 1
            page = samples.reports_page(reports.numbers[:10], page=1, per_page=10, total=290)
            return httpx2.Response(200, json=page)
        return reports(request)

    api.get("/call-reports").mock(side_effect=answer)

    with anyio.fail_after(10):
        got = [r.id async for r in client.call_reports(concurrency=2)]

    assert got == ids(range(1, 301))
    assert stale["left"] == 0
    assert sorted(set(reports.requested)) == list(range(1, 31))


async def test_a_walk_resumes_from_start_page(api: respx.MockRouter, client: AsyncVoipano) -> None:
    reports = Reports(total=50)
    api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(start_page=3, concurrency=2)]

    assert got == ids(range(21, 51))
    assert sorted(reports.requested) == [3, 4, 5]
    pages = [p.pagination.page async for p in client.call_reports(start_page=5).pages()]
    assert pages == [5]


async def test_a_start_page_past_the_end_yields_nothing(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    reports = Reports(total=50)
    api.get("/call-reports").mock(side_effect=reports)

    assert [r.id async for r in client.call_reports(start_page=9)] == []
    assert sorted(reports.requested) == [9, 10, 11, 12]  # the first window, past the end


@pytest.mark.parametrize("start_page", [0, -1, 1.5, True, "2"])
async def test_a_bad_start_page_is_refused_before_any_request(
    api: respx.MockRouter, client: AsyncVoipano, start_page: Any
) -> None:
    with pytest.raises(ValueError, match="start_page"):
        client.call_reports(start_page=start_page)
    assert api.calls.call_count == 0


async def test_a_long_walk_remembers_recent_ids_not_all_of_them(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    """Memory stays flat: a report repeated from far back is yielded again, one repeated
    from the pages just before it (a shift) is not."""
    reports = Reports(total=5_000, per_page=10)  # 500 pages; remembered: 1,000 ids
    reports.numbers[40] = 35  # page 5 repeats a report of page 4: a shift, skipped
    reports.numbers[4_990] = 1  # page 500 repeats the very first report: long forgotten
    api.get("/call-reports").mock(side_effect=reports)

    got = [r.id async for r in client.call_reports(per_page=10, concurrency=1)]

    assert got.count(ids([35])[0]) == 1
    assert got.count(ids([1])[0]) == 2
    assert len(got) == 5_000 - 1


def test_the_remembered_ids_cover_two_batches_of_pages() -> None:
    from voipano_async._pager import _MIN_REMEMBERED, _RecentIds, remembered

    assert remembered(concurrency=4, per_page=100) == 2 * 8 * 4 * 100
    assert remembered(concurrency=1, per_page=10) == _MIN_REMEMBERED
    recent = _RecentIds(100)
    for n in range(10_000):
        recent.add(str(n))
        assert len(recent) < 200
    assert all(str(n) in recent for n in range(9_900, 10_000))  # the last 100, always
    assert "0" not in recent
