"""Log lines that hold no cell value: tracebacks keep where an error happened, not what the data said.

Why: an exception's message often quotes the cell it choked on ("could not convert string to float: 'Jane Doe'"),
and a log outlives the upload. The stack (files, lines, functions, our source lines) is kept for support; every
exception message in the chain has its quoted parts replaced by '…' and any identifier left in it (an e-mail, a
phone or NHS number, a postcode, a titled name) redacted by the free-text scanner. Path arguments are not logged.
"""
from __future__ import annotations

import logging
import re
import traceback

_QUOTED = re.compile(r"""'[^'\n]*'|"[^"\n]*"|`[^`\n]*`""")
_PATH_LIKE = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s\\/:'\"]+)+\.[A-Za-z0-9]{1,5}\b")


def scrub_text(text: str) -> str:
    """A message with its quoted parts, file paths and any identifiers it holds replaced."""
    from .free_text import redact_text  # late: the scanner's patterns are only needed when something is logged

    text = _QUOTED.sub("'…'", str(text))
    text = _PATH_LIKE.sub("<path>", text)
    return redact_text(text)


def _exception_line(error: BaseException) -> str:
    """'module.Type: scrubbed message' (what the last line of a traceback says, without the cell values)."""
    kind = type(error)
    plain = kind.__module__ in ("builtins", "__main__")
    name = kind.__qualname__ if plain else f"{kind.__module__}.{kind.__qualname__}"
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - an exception whose message cannot even be built
        message = ""
    return f"{name}: {scrub_text(message)}\n" if message else f"{name}\n"


def scrubbed_traceback(error: BaseException) -> str:
    """The formatted traceback of an exception and its causes, every message scrubbed (scrub_text)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    chain: list[BaseException] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    for position, item in enumerate(reversed(chain)):
        if position:
            parts.append("\nDuring handling of the above exception, another exception occurred:\n\n")
        if item.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(item.__traceback__))
        parts.append(_exception_line(item))
    return "".join(parts)


class ScrubbingFormatter(logging.Formatter):
    """A logging formatter whose messages and tracebacks hold no cell values (scrub_text, scrubbed_traceback)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = scrub_text(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        error = ei[1] if ei and len(ei) > 1 else None
        return scrubbed_traceback(error).rstrip("\n") if error is not None else super().formatException(ei)
