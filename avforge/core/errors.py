"""The one exception type users see: a one-line message naming the file and the problem."""


class AvforgeError(Exception):
    """A user-facing error. The CLI prints ``avforge: error: <message>`` and exits non-zero."""

    def __init__(self, message: str, *, path: object = None):
        self.path = None if path is None else str(path)
        text = " ".join(str(message).split())  # always one line
        super().__init__(f"{self.path}: {text}" if self.path else text)
