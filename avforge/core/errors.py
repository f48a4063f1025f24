"""The one exception type users see: a one-line message naming the file and the problem.

Messages are safe to print: control characters (ESC sequences included) are escaped, each name
shown by ``shown`` is capped, and the whole line is capped at MAX_LINE characters.
"""
import re

MAX_NAME, MAX_LINE = 120, 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """Control and bidi characters as ``\\x1b`` / ``\\u202e`` escapes (nothing reaches the terminal raw)."""
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... (+{len(text) - limit} characters)"


def shown(name: object, limit: int = MAX_NAME) -> str:
    """A user-given name (file key, line) as it may appear in a message: escaped and capped."""
    return cap(escape(str(name)), limit)


class AvforgeError(Exception):
    """A user-facing error. The CLI prints ``avforge: error: <message>`` and exits non-zero."""

    def __init__(self, message: str, *, path: object = None):
        self.path = None if path is None else shown(path, 4 * MAX_NAME)
        text = " ".join(escape(str(message)).split())  # always one line
        super().__init__(cap(f"{self.path}: {text}" if self.path else text, MAX_LINE))
