"""The ``voipano`` group: click's, with a corrected command line when a global option is
given after the command, not only "No such option"."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

import click

__all__ = ["VoipanoGroup"]

_GIVEN = "voipano.given"  # ctx.meta key: the arguments, split before the command


class VoipanoGroup(click.Group):
    """A group whose "No such option" for a global option shows where it belongs."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)
        after = super().parse_args(ctx, args)  # what follows the command's name
        start = len(given) - len(after) - 1
        ctx.meta[_GIVEN] = (given[:start], given[start:])
        return after

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            hint = self._misplaced_global(ctx, exc)
            if hint is None:
                raise
            raise click.UsageError(hint, ctx=exc.ctx) from None

    def _misplaced_global(self, ctx: click.Context, exc: click.NoSuchOption) -> str | None:
        if exc.ctx is None or _GIVEN not in ctx.meta:
            return None
        own = {name for param in exc.ctx.command.params for name in param.opts}
        options = {
            name: param
            for param in self.params
            if isinstance(param, click.Option) and not param.hidden
            for name in (*param.opts, *param.secondary_opts)
            if name not in own
        }
        if exc.option_name not in options:
            return None
        before, after = ctx.meta[_GIVEN]
        moved: list[str] = []
        kept: list[str] = []
        tokens = iter(after)
        for token in tokens:
            long = token.startswith("--")
            name = token.partition("=")[0] if long else token
            cluster = [f"-{flag}" for flag in token[1:]] if token[:1] == "-" and not long else []
            if token == "--":
                kept += [token, *tokens]
            elif name in options:
                moved.append(token)
                if not _is_flag(options[name]) and "=" not in token:
                    moved += [next(tokens, "")]
            elif cluster and all(c in options and _is_flag(options[c]) for c in cluster):
                moved.append(token)  # -vv, -qv
            else:
                kept.append(token)
        secret = {name for param in self.params if param.name == "token" for name in param.opts}
        example = _masked([*before, *moved, *kept], secret)
        prog = ctx.find_root().info_name or "voipano"
        return (
            f"{exc.option_name} is a global option: global options go before the "
            f"command, as in\n\n    {prog} {example}"
        )


def _is_flag(option: click.Option) -> bool:
    return option.is_flag or option.count


def _masked(tokens: Sequence[str], secret: set[str]) -> str:
    """A command line for display, the API token replaced: a token is never printed."""
    shown: list[str] = []
    hide = False
    for token in tokens:
        name, equals, _ = token.partition("=")
        if hide:
            shown.append("TOKEN")
        elif name in secret and equals:
            shown.append(f"{name}=TOKEN")
        else:
            shown.append(shlex.quote(token))
        hide = not hide and token in secret  # the next token is the option's value
    return " ".join(shown)
