"""Click parameter types with bounds, and click's usage errors as one line in bpexplain's style.

Every option value is checked by its type while click parses the command line, before any work:
a value out of bounds is `--steps: found 0 (expected a whole number from 1 to 100,000,000)`. The
bounds are the constants of `option_limits.py`. `usage_line` turns every click usage error (an
unknown option, a missing argument, a bad value) into the same `what: found (expected ...)` form
that errors about a network file have, instead of click's three-line usage block.
"""

from __future__ import annotations

import math
from typing import Any

import click


class Whole(click.ParamType):
    """A whole number from `low` to `high` (inclusive), written in decimal digits."""

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            digits = text[1:] if text[:1] in "+-" else text
            if not digits.isdigit() or not digits.isascii() or len(digits) > 30:
                self.fail(f"found {_shown(value)} ({self.expected()})", param, ctx)
            number = int(text)
        if not self.low <= number <= self.high:
            self.fail(f"found {number} ({self.expected()})", param, ctx)
        return number

    def expected(self) -> str:
        return f"expected a whole number from {self.low:,} to {self.high:,}"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:  # type: ignore[override]
        return "N"


class Finite(click.ParamType):
    """A finite number of at least `low` (NaN and infinities refused)."""

    name = "number"

    def __init__(self, low: float) -> None:
        self.low = low

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"found {_shown(value)} ({self.expected()})", param, ctx)
        if not math.isfinite(number) or number < self.low:
            self.fail(f"found {_shown(value)} ({self.expected()})", param, ctx)
        return number

    def expected(self) -> str:
        return f"expected a finite number of at least {self.low:g}"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:  # type: ignore[override]
        return "X"


class OneOf(click.Choice):
    """click.Choice, with its refusal worded as ours."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"found {_shown(value)} (expected one of {', '.join(map(str, self.choices))})", param, ctx)


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def option_name(param: click.Parameter | None) -> str:
    """How a user wrote or would write the parameter: its long option, or an argument's NAME."""
    if param is None:
        return ""
    if isinstance(param, click.Argument):
        return param.human_readable_name
    return max(param.opts, key=len) if param.opts else str(param.name)


class Refused(click.UsageError):
    """A usage error whose message is already one line in our style."""


def usage_line(exc: click.UsageError) -> str:
    """The one line (without `error: `) for a click usage error."""
    if isinstance(exc, Refused):
        return exc.message
    ctx = exc.ctx
    command = ctx.command_path if ctx is not None else "bpexplain"
    see = f"see '{command} --help'"
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None and isinstance(ctx.command, click.Group):
        commands = ", ".join(ctx.command.list_commands(ctx))
        return f"no command given (expected one of {commands}; {see})"
    if isinstance(exc, click.NoSuchOption):
        near = sorted(exc.possibilities or ())
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        return f"{exc.option_name}: no such option{hint} ({see})"
    if isinstance(exc, click.MissingParameter):
        name = option_name(exc.param) or (exc.param_hint if isinstance(exc.param_hint, str) else "")
        what = "a bundled network's name or a path to a YAML file" if name == "NET" else "a value"
        return f"{name}: missing (expected {what}; {see})"
    if isinstance(exc, click.BadParameter):
        name = option_name(exc.param) or (exc.param_hint if isinstance(exc.param_hint, str) else "")
        message = _sentence(exc.message)
        if "(expected" not in message:
            message += f" ({see})"
        return f"{name}: {message}" if name else message
    if isinstance(exc, click.BadOptionUsage) and "requires an argument" in exc.message:
        return f"{exc.option_name}: needs a value ({see})"
    return f"{_sentence(exc.format_message())} ({see})"


def unknown_command_line(name: str, commands: list[str]) -> str:
    import difflib

    near = difflib.get_close_matches(name, commands, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"{name}: no such command{hint} (expected one of {', '.join(commands)})"


def _sentence(message: str) -> str:
    """One line, without click's capital letter and full stop."""
    text = " ".join(message.split())
    if text.endswith("."):
        text = text[:-1]
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return text
