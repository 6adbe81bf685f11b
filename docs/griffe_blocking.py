"""A griffe extension: show the blocking ``Voipano``'s methods as the methods they are.

``Voipano``'s methods are made at import time from ``AsyncVoipano``'s
(``call_otp: Final = blocking(AsyncVoipano.call_otp)``), which griffe's static reading
sees as plain attributes. This gives each one the async method's parameters, and the
docstring and result the made method carries at run time (``help()`` shows the same),
and gives ``Voipano.__init__`` the parameters of ``AsyncVoipano.__init__``.
"""

from __future__ import annotations

import inspect
from typing import Any

import griffe


class BlockingClient(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != "voipano_async":
            return
        from voipano_async import Voipano  # the methods as made, for their text

        blocking: griffe.Class = pkg["_voipano.Voipano"]
        source: griffe.Class = pkg["_client.AsyncVoipano"]
        for name, member in list(blocking.members.items()):
            made = vars(Voipano).get(name)
            if not isinstance(member, griffe.Attribute) or not inspect.isfunction(made):
                continue
            function = griffe.Function(
                name,
                lineno=member.lineno,
                endlineno=member.endlineno,
                parameters=source.all_members[name].parameters,
                returns=inspect.signature(made).return_annotation,
            )
            function.docstring = griffe.Docstring(made.__doc__ or "", parent=function)
            blocking.set_member(name, function)
        blocking.members["__init__"].parameters = source.members["__init__"].parameters
