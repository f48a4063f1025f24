"""Checks shared by the dataset loaders: JSON record lists, file entries, segment lists.

A problem with one record raises ``RecordError``; ``parse_records`` turns it into a one-line
``AvforgeError`` naming the metadata file and the record index.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

import orjson

from avforge.core.errors import AvforgeError
from avforge.core.timegrid import VIDEO_GRID
from avforge.core.types import Segment, VideoRecord

_SEPARATORS = re.compile(r"[/\\]")


class RecordError(ValueError):
    """One metadata record is malformed (the caller adds the file name and record index)."""


def read_record_list(path) -> list:
    """Parse a JSON file that must hold a list (orjson: ~1M records parse in seconds)."""
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("metadata file not found", path=path)
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise AvforgeError(f"not valid JSON ({exc})", path=path) from None
    if not isinstance(data, list):
        raise AvforgeError(f"expected a JSON list of records, got {type(data).__name__}", path=path)
    return data


def parse_records(path, items: list, parse_one: Callable[[object], VideoRecord | None]) -> list[VideoRecord]:
    """Apply ``parse_one`` to every item (None = skip it). Empties ``items`` as it goes, so the
    parsed JSON and the records never both sit in memory in full."""
    records = []
    for idx in range(len(items)):
        item, items[idx] = items[idx], None
        try:
            record = parse_one(item)
        except (AvforgeError, TypeError, ValueError) as exc:
            raise AvforgeError(f"record {idx}: {exc}", path=path) from None
        if record is not None:
            records.append(record)
    return records


def check_unique_files(path, records: list[VideoRecord]) -> None:
    """Every ``file`` is a prediction key, so it must be listed once."""
    seen = set()
    for record in records:
        if record.file in seen:
            raise AvforgeError(f"file {record.file!r} is listed twice in split {record.split!r}", path=path)
        seen.add(record.file)


def require_dict(item) -> dict:
    if not isinstance(item, dict):
        raise RecordError(f"expected a JSON object, got {type(item).__name__}")
    return item


def path_problem(file: str) -> str | None:
    """Why ``file`` cannot name a file inside a dataset root, or None when it can."""
    if not file:
        return "is empty"
    if "\x00" in file:
        return "contains a NUL byte"
    if file.startswith(("/", "\\")) or (file[1:2] == ":" and file[0].isalpha()):  # C:...
        return "is an absolute path"
    parts = _SEPARATORS.split(file)
    if ".." in parts:
        return "has a '..' component"
    if parts[-1] in ("", "."):  # ".", "a/", "a/.": a folder (the feature store refuses "." as a key)
        return "names a folder, not a video file (ends in '.' or a separator)"
    return None


def require_file(item: dict) -> str:
    """The record's ``file`` entry, checked to stay inside the dataset root."""
    file = item.get("file")
    if not isinstance(file, str) or not file:
        raise RecordError("missing or empty 'file'")
    problem = path_problem(file)
    if problem:
        raise RecordError(f"file entry {file!r} {problem}")
    return file


def _number(value) -> bool:
    return type(value) is float or type(value) is int  # exact types: bool is not a number here


def parse_segments(item: dict, key: str) -> tuple[Segment, ...]:
    """``[[start_s, end_s], ...]`` with 0 <= start < end; absent or null means no segments."""
    value = item.get(key)
    if value is None or value == []:
        return ()
    if not isinstance(value, list):
        raise RecordError(f"'{key}' must be a list of [start, end] pairs, got {value!r}")
    out = []
    for seg in value:
        if not isinstance(seg, list) or len(seg) != 2 or not (_number(seg[0]) and _number(seg[1])):
            raise RecordError(f"'{key}' entry {seg!r} is not a [start, end] pair of numbers")
        start, end = float(seg[0]), float(seg[1])
        if not 0.0 <= start < end:
            raise RecordError(f"'{key}' entry {seg!r} needs 0 <= start < end")
        out.append((start, end))
    return tuple(out)


def optional_number(item: dict, key: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if not _number(value) or value < 0:
        raise RecordError(f"'{key}' must be a non-negative number, got {value!r}")
    return value


def duration_s(item: dict) -> float | None:
    """``duration`` (seconds) if given, else ``video_frames`` on the 25 fps video grid."""
    seconds = optional_number(item, "duration")
    if seconds is not None:
        return float(seconds)
    frames = optional_number(item, "video_frames")
    return None if frames is None else float(VIDEO_GRID.time_of(frames))


def speaker(item: dict) -> str | None:
    """The optional ``speaker`` key (our synthetic data writes it), interned: few distinct values."""
    value = optional_str(item, "speaker")
    return None if value is None else sys.intern(value)


def optional_str(item: dict, key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"'{key}' must be a string, got {value!r}")
    return value
