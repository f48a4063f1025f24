"""Fast readers for prediction JSON (``{file: [[score, start, end], ...]}``, via reader.py) and label metadata."""
from __future__ import annotations

from pathlib import Path

import orjson

from avforge.core.errors import AvforgeError
from avforge.eval.flat import Ragged, flatten, listing
from avforge.eval.reader import BOM, read_bytes, read_predictions

def read_json_fast(path):
    """orjson read of any JSON file; a missing file or bad JSON is a one-line AvforgeError."""
    path = Path(path)
    data = read_bytes(path)
    try:
        return orjson.loads(data[len(BOM):] if data.startswith(BOM) else data)  # metadata: a BOM is harmless
    except orjson.JSONDecodeError as exc:
        raise AvforgeError(f"not valid JSON ({exc})", path=path) from None


def load_predictions(path) -> Ragged:
    """Read a Task-2 prediction JSON into a Ragged (M, 3) ``[score, start, end]`` in file order
    (the one strict, bounded reader: avforge.eval.reader)."""
    return read_predictions(path)


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
