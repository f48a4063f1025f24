"""Fast readers for prediction JSON (``{file: [[score, start, end], ...]}``) and label metadata."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from avforge.core.errors import AvforgeError
from avforge.eval.flat import Ragged, flatten, listing

_NUMBER = b"0123456789.-+eE"
_SPACE = b" \t\n\r"
# empty row slot = "[," ",," or ",]" once whitespace is gone ("[]" is an empty list). Bits 0-1 say what a
# byte is on the left of a pair ("[" 1, "," 2), bits 2-3 which left bytes it is bad after ("," 1|2, "]" 2)
_SLOT_CODE = bytes({ord("["): 1, ord(","): 2 | (3 << 2), ord("]"): 2 << 2}.get(c, 0) for c in range(256))
# number characters kept, whitespace -> " " (stays inside its token), everything else -> newline
_TOKENS = bytes(c if c in _NUMBER else (32 if c in _SPACE else 10) for c in range(256))
_ROW = b"[,,],"


def read_json_fast(path):
    """orjson read of any JSON file; a missing file or bad JSON is a one-line AvforgeError."""
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("file not found", path=path)
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise AvforgeError(f"not valid JSON ({exc})", path=path) from None


def load_predictions(path) -> Ragged:
    """Read a Task-2 prediction JSON into a Ragged (M, 3) ``[score, start, end]`` in file order.

    Duplicated file keys are an error. Plain files (no escapes in keys) take a fast path that never
    builds Python objects per number; anything else goes through orjson.
    """
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("file not found", path=path)
    flat = _parse_plain_predictions(path.read_bytes(), source=str(path))
    if flat is not None:
        return flat
    data = read_json_fast(path)
    if not isinstance(data, dict):
        raise AvforgeError("expected a JSON object {file: [[score, start, end], ...]}", path=path)
    return flatten(data, width=3, source=str(path))


def _parse_plain_predictions(raw: bytes, source: str) -> Ragged | None:
    """Parse ``{"file": [[s, a, b], ...], ...}`` straight from bytes, or None when the file is not plain.

    Hand-written because orjson's per-number Python objects cost more than the whole evaluation.
    Keys are split on quotes. With whitespace and numbers deleted, every value must read exactly
    ``:[[,,],...]``; with whitespace deleted no ``[,`` ``,,`` ``,]`` may occur (no empty slot);
    each token must parse alone and the token count must be 3 per row, so every number sits in a row
    slot. Anything else falls back to the strict parser. Numbers are parsed by pandas' C reader
    (correctly rounded float64). Intermediate buffers are dropped early to bound memory.
    """
    if b"\\" in raw:
        return None
    pieces = raw.split(b'"')
    del raw
    if len(pieces) < 3 or len(pieces) % 2 == 0 or pieces[0].strip() != b"{":
        return None
    try:
        files = [k.decode() for k in pieces[1::2]]
    except UnicodeDecodeError:
        return None
    bodies = b'"'.join(pieces[2::2])
    del pieces
    code = np.frombuffer(bodies.translate(_SLOT_CODE, _SPACE), dtype=np.uint8)
    if np.any(code[:-1] & (code[1:] >> 2)):
        return None
    del code
    skeleton = bodies.translate(None, _SPACE + _NUMBER).split(b'"')
    counts = [b.count(b"[") - 1 for b in skeleton]
    expected = [b":[" + (_ROW * n)[:-1] + b"]," for n in counts]
    expected[-1] = expected[-1][:-1] + b"}"
    if skeleton != expected:
        return None
    del skeleton, expected
    tokens = bodies.translate(_TOKENS)
    del bodies
    try:
        values = pd.read_csv(io.BytesIO(tokens), header=None, dtype=np.float64, engine="c",
                             na_filter=False).iloc[:, 0].to_numpy()
    except pd.errors.EmptyDataError:
        values = np.zeros(0)
    except (ValueError, pd.errors.ParserError):
        return None
    counts = np.array(counts, dtype=np.int64)
    if len(values) != 3 * int(counts.sum()):
        return None
    if len(set(files)) != len(files):
        seen, dup = set(), []
        for f in files:
            (dup.append(f) if f in seen else seen.add(f))
        raise AvforgeError(listing("duplicated files", dup), path=source)
    offsets = np.zeros(len(files) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Ragged(files=files, offsets=offsets, rows=values.reshape(-1, 3))


def labels_from_records(records, file_key: str = "file", value_key: str = "fake_segments", *,
                        source: str = "labels") -> Ragged:
    """Ground truth from metadata records (dicts) into a Ragged (G, 2) ``[start, end]`` in record order."""
    if not isinstance(records, list):
        raise AvforgeError("expected a JSON list of records", path=source)
    try:
        files = [r[file_key] for r in records]
        segments = [r[value_key] for r in records]
    except (KeyError, TypeError):
        bad = [str(i) for i, r in enumerate(records) if not (isinstance(r, dict) and file_key in r and value_key in r)]
        raise AvforgeError(listing(f"records without '{file_key}' and '{value_key}' (by index)", bad),
                           path=source) from None
    labels = flatten(dict(zip(files, segments)), width=2, source=source)
    if len(labels.files) != len(files):  # duplicated files: keep every record like the official
        flat = flatten(dict(enumerate(segments)), width=2, source=source)
        labels = Ragged(files=files, offsets=flat.offsets, rows=flat.rows)
    return labels


def load_labels(path, file_key: str = "file", value_key: str = "fake_segments") -> Ragged:
    """Read a metadata JSON (list of records) into a Ragged of ground-truth segments."""
    return labels_from_records(read_json_fast(path), file_key, value_key, source=str(path))
