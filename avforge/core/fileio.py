"""JSON / JSON-lines io and atomic writes (temp name, then rename: no partial files)."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from avforge.core.errors import AvforgeError


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    The parent folder must exist or be creatable; an unwritable folder is a one-line error.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp",
                                   dir=path.parent)
    except OSError as exc:
        raise AvforgeError(f"cannot write here ({exc.strerror or exc})", path=path) from None
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, obj, indent: int | None = None) -> None:
    write_text(path, json.dumps(obj, indent=indent))


def read_json(path):
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("file not found", path=path)
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AvforgeError(f"not valid JSON ({exc})", path=path) from None


def write_jsonl(path, rows: Iterable[dict]) -> None:
    write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


def read_jsonl(path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("file not found", path=path)
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise AvforgeError(f"line {lineno} is not valid JSON ({exc.msg})", path=path) from None
    return rows
