"""The errors of the template engine: one base, one for parsing, one for rendering."""

from __future__ import annotations


class TemplateError(Exception):
    """A template that cannot be parsed or rendered."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ParseError(TemplateError):
    """Bad syntax, or a construct the template language does not allow."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


class RenderError(TemplateError):
    """A template that failed while rendering (too large, too slow, a bad operation)."""


def located(exc: ParseError, source: str) -> str:
    return f"{exc.message} (line {exc.line})" if "\n" in source.rstrip("\n") else exc.message
