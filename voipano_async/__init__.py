"""voipano-async: the async-first Python SDK for the Voipano VoIP webservice.

Examples:
    >>> from voipano_async import AsyncVoipano
    >>> async with AsyncVoipano() as client:  # token from VOIPANO_TOKEN
    ...     otp = await client.call_otp("09123456789", purpose="login")
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._client import AsyncVoipano
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditError,
    InvalidPhoneNumberError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SpendLimitExceededError,
    UnexpectedResponseError,
    UnprocessableEntityError,
    VoipanoError,
)
from ._models import (
    Answer,
    Billing,
    CallOtpResult,
    CallProvider,
    CallReport,
    CallReportsPage,
    CallResult,
    Pagination,
    RawResult,
    ResponseMeta,
    Service,
    ServiceList,
    ServicePackage,
    VoicemailInbox,
    VoicemailInboxes,
)
from ._pager import CallReportPager
from ._phone import mask_phone_number, normalize_phone_number
from ._retry import RetryPolicy
from ._streams import AudioStream, AudioStreamContext
from ._types import NOT_GIVEN, CallOptions, NotGiven, ReadOptions, RequestOptions
from ._version import __version__

if TYPE_CHECKING:
    from ._aiohttp import DefaultAioHttpClient
    from ._dataset import DatasetError, ReportDataset, RunCounts, harvest_dataset
    from ._twins import AudioStreamSync, CallReportIterator
    from ._voipano import Voipano

# The blocking client loads its thread machinery only when first used: async users
# never pay for it at import.
# DefaultAioHttpClient imports aiohttp (the aiohttp extra) only when it is asked for.
_LAZY = {
    "AudioStreamSync": "_twins",
    "CallReportIterator": "_twins",
    "DefaultAioHttpClient": "_aiohttp",
    # The dataset (sqlite3) only when it is used.
    "DatasetError": "_dataset",
    "ReportDataset": "_dataset",
    "RunCounts": "_dataset",
    "harvest_dataset": "_dataset",
    "Voipano": "_voipano",
}

__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "Answer",
    "AsyncVoipano",
    "AudioStream",
    "AudioStreamContext",
    "AudioStreamSync",
    "AuthenticationError",
    "BadRequestError",
    "Billing",
    "CallOptions",
    "CallOtpResult",
    "CallProvider",
    "CallReport",
    "CallReportIterator",
    "CallReportPager",
    "CallReportsPage",
    "CallResult",
    "DatasetError",
    "DefaultAioHttpClient",
    "InsufficientCreditError",
    "InvalidPhoneNumberError",
    "NotFoundError",
    "NotGiven",
    "Pagination",
    "PermissionDeniedError",
    "RateLimitError",
    "RawResult",
    "ReadOptions",
    "ReportDataset",
    "RequestOptions",
    "ResponseMeta",
    "RetryPolicy",
    "RunCounts",
    "ServerError",
    "Service",
    "ServiceList",
    "ServicePackage",
    "SpendLimitExceededError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
    "VoicemailInbox",
    "VoicemailInboxes",
    "Voipano",
    "VoipanoError",
    "__version__",
    "harvest_dataset",
    "mask_phone_number",
    "normalize_phone_number",
]

# Reprs, tracebacks and the docs show the public path, as httpx does.
for _name in __all__:
    _obj = globals().get(_name)
    if isinstance(_obj, type) or callable(_obj):
        _obj.__module__ = __name__
del _name, _obj


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        try:
            module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        except ImportError as exc:
            if exc.name != "aiohttp":
                raise
            raise ImportError(
                f"{name} needs the aiohttp extra: pip install 'voipano-async[aiohttp]'",
                name=exc.name,
            ) from exc
        value = getattr(module, name)
        value.__module__ = __name__
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # What tab completion and help() offer: the public names, the lazy ones included
    # (listing them does not import them), not the helpers this module imports.
    return sorted(__all__)
