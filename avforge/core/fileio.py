"""JSON / JSON-lines io and atomic writes (temp name, then rename: no partial files).

Outputs: a target that exists and is not a regular file (device, FIFO, socket, folder) is refused
with one line, never replaced (``--out /dev/null`` would otherwise turn the device into a file).
Temp files are named ``.<name>.avtmp-<pid>-<host>-<random><suffix>``: a later write of the same
target removes those whose writer is gone (same host and pid dead, or another host's older than a
day), never another live process's.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import orjson

from avforge.core.errors import AvforgeError

T = TypeVar("T")

TEMP_TAG = ".avtmp-"
OTHER_HOST_STALE_S = 86_400  # another host's temp file is stale after a day (its pid cannot be checked)
_TEMP = re.compile(r"^\.(?P<name>.+)\.avtmp-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-")
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def check_output(path) -> Path:
    """``path`` if it can be an output file: absent or a regular file (links followed); else one-line error."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise AvforgeError(f"cannot write here ({exc.strerror or exc})", path=path) from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise AvforgeError(f"exists and is {kind}; refusing to replace it: give a file path", path=path)
    return path


def _writer_gone(match: re.Match, entry: os.DirEntry, host: str) -> bool:
    if match["host"] != host:
        try:
            return time.time() - entry.stat(follow_symlinks=False).st_mtime > OTHER_HOST_STALE_S
        except OSError:
            return False
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def remove_stale_temps(folder, name: str | None = None) -> int:
    """Remove avforge temp files in ``folder`` (of target ``name`` only, if given) whose writer is gone."""
    host, removed = _host(), 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP.match(entry.name) if TEMP_TAG in entry.name else None
        if match and (name is None or match["name"] == name) and _writer_gone(match, entry, host):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed


@contextlib.contextmanager
def _temp_for(path: Path, suffix: str | None) -> Iterator[Path]:
    """A fresh temp file next to ``path`` (ordinary permissions), removed on exit unless renamed away."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_TAG}{os.getpid()}-{_host()}-",
                                   suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    except OSError as exc:
        raise AvforgeError(f"cannot write here ({exc.strerror or exc})", path=path) from None
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_paths(paths: Sequence, suffixes: Sequence[str | None] | None = None, *,
                 clean_stale: bool = False) -> Iterator[list[Path]]:
    """Temp paths for a set of outputs committed together: renamed onto ``paths`` only after the body
    wrote every one (disk full, an error or a kill leaves the previous set untouched).

    Every target is checked (:func:`check_output`) before and again just before the renames; the
    parent folders must exist or be creatable. ``clean_stale`` first removes temps of the same
    targets left by writers that are gone (a killed run); it lists the folder, so callers writing
    many files into one folder leave it off and call remove_stale_temps once.
    """
    paths = [check_output(p) for p in paths]
    suffixes = list(suffixes) if suffixes is not None else [None] * len(paths)
    if clean_stale:
        for p in paths:
            remove_stale_temps(p.parent, p.name)
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(_temp_for(p, s)) for p, s in zip(paths, suffixes)]
        yield tmps
        for p in paths:
            check_output(p)
        for tmp, p in zip(tmps, paths):
            os.replace(tmp, p)


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None, *, clean_stale: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success (see atomic_paths)."""
    with atomic_paths([path], [suffix], clean_stale=clean_stale) as (tmp,):
        yield tmp


def write_text(path, text: str, *, clean_stale: bool = False) -> None:
    with atomic_path(path, clean_stale=clean_stale) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, obj, indent: int | None = None, *, clean_stale: bool = False) -> None:
    write_text(path, json.dumps(obj, indent=indent), clean_stale=clean_stale)


def write_json_set(objects: dict, indent: int | None = None) -> None:
    """Write ``{path: obj}`` as JSON files committed together (all or none); stale temps of them removed."""
    texts = [json.dumps(obj, indent=indent) for obj in objects.values()]
    with atomic_paths(list(objects), clean_stale=True) as tmps:
        for tmp, text in zip(tmps, texts):
            tmp.write_text(text, encoding="utf-8")


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


def parse_jsonl(path, parse_row: Callable[[object], T], missing: str = "file not found") -> list[T]:
    """``parse_row`` of every non-blank line's JSON value; a bad line (invalid JSON, or ``parse_row``
    raising ValueError / TypeError / AvforgeError) is a one-line error naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise AvforgeError(missing, path=path)
    out = []
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(parse_row(orjson.loads(line)))
            except (AvforgeError, TypeError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
                raise AvforgeError(f"line {lineno}: {exc}", path=path) from None
    return out


def read_jsonl(path) -> list:
    """Every non-blank line's JSON value."""
    return parse_jsonl(path, lambda row: row)
