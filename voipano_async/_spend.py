"""The spend guard: a ceiling on what one client (and its copies) may spend on calls."""

from __future__ import annotations

from . import _config
from ._exceptions import SpendLimitExceededError
from ._models import Billing

__all__ = ["SpendGuard"]


class SpendGuard:
    """Reserves each charged call's price before it is sent, then settles it.

    The price is the last ``unit_price`` the server reported for the endpoint, or the
    published price before that. A reservation settles to the ``charged`` amount of the
    answer; it is released when the call provably did not happen, and kept (counted as
    spent) when it may have. Everything runs on one event loop between awaits, so
    concurrent tasks cannot both pass the check with the last unit of budget.
    """

    def __init__(self, *, limit: int | None, min_credit: int | None) -> None:
        self.limit = limit
        self.min_credit = min_credit
        self.spent: int = 0
        self.reserved: int = 0
        self.remaining_credit: int | None = None
        self._prices = dict(_config.PUBLISHED_PRICES)

    def reserve(self, path: str) -> int:
        # A path with no known price (``client.request``) reserves nothing until an
        # answer tells its ``unit_price``.
        price = self._prices.get(path, 0)
        committed = self.spent + self.reserved
        if (
            self.min_credit is not None
            and self.remaining_credit is not None
            and self.remaining_credit < self.min_credit
        ):
            raise SpendLimitExceededError(
                f"refused {path}: the account's credit ({self.remaining_credit}) is below "
                f"min_credit ({self.min_credit}); nothing was sent",
                price=price,
                spent=committed,
                limit=None,
            )
        # An unknown price counts as at least 1: once the budget is spent, it is refused.
        if self.limit is not None and committed + max(price, 1) > self.limit:
            raise SpendLimitExceededError(
                f"refused {path}: its price ({price}) would take spending to "
                f"{committed + price}, over spend_limit ({self.limit}); nothing was sent",
                price=price,
                spent=committed,
                limit=self.limit,
            )
        self.reserved += price
        return price

    def settle(self, path: str, price: int, billing: Billing | None, *, placed: bool) -> None:
        """End a reservation: with the answer's billing, or as placed / not placed."""
        self.reserved -= price
        if billing is not None:
            self.spent += billing.charged
            if billing.unit_price > 0:
                self._prices[path] = billing.unit_price
            if billing.remaining_credit is not None:
                self.remaining_credit = billing.remaining_credit
        elif placed:
            self.spent += price
