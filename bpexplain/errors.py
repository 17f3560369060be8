"""One error type for everything a user can fix: it knows where (file, line, column) and what was expected."""

from __future__ import annotations

from typing import Final

from .record import Record


class Location(Record):
    """Where in the user's input: a file, and a line and column in it when known."""

    __slots__ = __match_args__ = ("file", "line", "column")

    def __init__(self, file: str, line: int | None = None, column: int | None = None) -> None:
        self.file: Final = file
        self.line: Final = line  # 1-based
        self.column: Final = column  # 1-based

    @property
    def is_file(self) -> bool:
        """A file the error is about (an `OptionLocation` is not one)."""
        return bool(self.file)

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


class OptionLocation(Location):
    """An option on the command line standing where a file would, such as `--set KEY=VALUE`."""

    __slots__ = ()

    @property
    def is_file(self) -> bool:
        return False


class BpexplainError(Exception):
    """A problem with the user's input; the CLI prints it as one line and exits with status 2."""

    exit_code = 2

    def __init__(
        self, message: str, *, where: Location | None = None, path: str = "", expected: str | None = None
    ) -> None:
        self.message = message
        self.where = where
        self.path = path
        self.expected = expected
        super().__init__(self.line())

    def line(self) -> str:
        """The whole error on one line: where, then what (`net.yaml:4:5: layers[0].weight: ...`)."""
        return f"{self.where}: {self.detail()}" if self.where is not None else self.detail()

    def report(self) -> str:
        """The line the CLI prints: `net.yaml:4:5: error: ...` where a file is involved, as compilers and
        editors write it; `error: --set KEY=VALUE: ...` for an option, as click's usage errors read."""
        if self.where is not None and self.where.is_file:
            return f"{self.where}: error: {self.detail()}"
        return f"error: {self.line()}"

    def detail(self) -> str:
        """What is wrong, without where: the key path, what was found, what was expected."""
        parts = []
        if self.path:
            parts.append(f"{self.path}: ")
        parts.append(self.message)
        if self.expected:
            parts.append(f" (expected {self.expected})")
        return "".join(parts)


class NumericalError(BpexplainError):
    """A value became NaN or infinite; exit status 1."""

    exit_code = 1
