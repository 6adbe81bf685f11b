"""Testing tools: ``VoipanoSandbox``, a faithful emulator of the Voipano webservice.

Examples:
    >>> from voipano_async.testing import VoipanoSandbox
    >>> sandbox = VoipanoSandbox()
    >>> async with sandbox.client() as client:
    ...     otp = await client.call_otp("09123456789")
    >>> sandbox.credit
    9840
"""

from ._data import VoicemailMessage
from ._faults import FAULT_KINDS, Fault, Faults
from ._inprocess import InProcessTransport
from ._sandbox import VoipanoSandbox
from ._wire import DroppedConnection, RecordedRequest

__all__ = [
    "FAULT_KINDS",
    "DroppedConnection",
    "Fault",
    "Faults",
    "InProcessTransport",
    "RecordedRequest",
    "VoicemailMessage",
    "VoipanoSandbox",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj


def __dir__() -> list[str]:
    # The public names only, not the submodules importing them made attributes here.
    return sorted(__all__)
