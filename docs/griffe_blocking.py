"""A griffe extension: show the blocking ``Voipano``'s methods as the methods they are.

``Voipano``'s methods are made at import time from ``AsyncVoipano``'s
(``call_otp: Final = blocking(AsyncVoipano.call_otp)``), which griffe's static reading
sees as plain attributes. This gives each one the async method's parameters, the result
the blocking form returns and a docstring that links to the async method, and gives
``Voipano.__init__`` the parameters of ``AsyncVoipano.__init__``: what ``help()`` and
type checkers show too.
"""

from __future__ import annotations

from typing import Any

import griffe

FACTORIES = {"blocking", "wrapping", "copying"}


class BlockingClient(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != "voipano_async":
            return
        blocking: griffe.Class = pkg["_voipano.Voipano"]
        source: griffe.Class = pkg["_client.AsyncVoipano"]
        for name, member in list(blocking.members.items()):
            value = getattr(member, "value", None)
            if not isinstance(value, griffe.ExprCall) or str(value.function) not in FACTORIES:
                continue
            method = source.all_members[name]
            function = griffe.Function(
                name,
                lineno=member.lineno,
                endlineno=member.endlineno,
                parameters=method.parameters,
                returns=_returns(value, method),
            )
            summary = (method.docstring.value if method.docstring else "").partition("\n")[0]
            link = f"AsyncVoipano.{name}"
            function.docstring = griffe.Docstring(
                f"{summary}\n\nThe blocking form of [`{link}`][voipano_async.{link}].",
                parent=function,
            )
            blocking.set_member(name, function)
        blocking.members["__init__"].parameters = source.members["__init__"].parameters


def _returns(made: griffe.ExprCall, method: griffe.Function) -> Any:
    """What the blocking form returns: ``wrapping``'s class, a copy, or the same."""
    factory = str(made.function)
    if factory == "wrapping":
        return made.arguments[1]
    return "Voipano" if factory == "copying" else method.returns
