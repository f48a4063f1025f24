"""Word timings: where each spoken word of a video starts and ends (seconds, as heard).

Both real datasets ship them for every video: LAV-DF in the full ``metadata.json`` (``timestamps``,
per word ``[word, start, end]``; ``metadata.min.json`` drops them), AV-Deepfake1M in the per-video
JSONs under ``{split}_metadata/`` (``transcripts``: ``{"word", "start", "end"}``); the synthetic
benchmark writes both. Training uses them to cut pseudo-forgeries at word boundaries
(``avforge.data.splice``), never at inference.

A word-timings file has one JSON line per video, ``[file, [[start_s, end_s], ...]]``, words in time
order; ``avforge manifest --words`` writes it (~0.3 KB per video of 16 words). Read line by line, it
holds ~0.6 KB per such video in memory (measured): ~0.7 GB per training process for AV-Deepfake1M's
1.1M training videos.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from avforge.core.errors import AvforgeError
from avforge.core.fileio import atomic_path, parse_jsonl, read_json
from avforge.data.metadata import read_record_list


def _span(entry) -> tuple[float, float]:
    """One word: ``[start, end]``, ``[word, start, end]`` or ``{"start", "end", ...}``."""
    if isinstance(entry, dict):
        start, end = entry.get("start"), entry.get("end")
    elif isinstance(entry, (list, tuple)) and len(entry) in (2, 3):
        start, end = entry[-2:]
    else:
        raise ValueError(f"a word timing must be [start, end], [word, start, end] or an object, got {entry!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, end)) or end < start:
        raise ValueError(f"word timing {entry!r} needs numbers start <= end")
    return float(start), float(end)


def parse_words(entries) -> np.ndarray:
    """(W, 2) float64 word spans in time order; zero-length and repeated spans dropped."""
    if not isinstance(entries, list):
        raise ValueError(f"word timings must be a list, got {type(entries).__name__}")
    spans = sorted({s for s in map(_span, entries) if s[1] > s[0]})
    return np.asarray(spans, dtype=np.float64).reshape(-1, 2)


def _lavdf_words(root, files: set[str]) -> dict[str, np.ndarray]:
    path = Path(root) / "metadata.json"  # metadata.min.json has none
    if not path.is_file():
        return {}
    out = {}
    for i, item in enumerate(read_record_list(path)):
        if isinstance(item, dict) and item.get("file") in files and "timestamps" in item:
            try:
                out[item["file"]] = parse_words(item["timestamps"])
            except ValueError as exc:
                raise AvforgeError(f"record {i} ({item['file']}): {exc}", path=path) from None
    return out


def _avdeepfake1m_words(root, split: str, files: set[str]) -> dict[str, np.ndarray]:
    out = {}
    for file in sorted(files):
        path = Path(root) / f"{split}_metadata" / Path(file).with_suffix(".json")
        if not path.is_file():
            continue
        item = read_json(path)
        if isinstance(item, dict) and "transcripts" in item:
            try:
                out[file] = parse_words(item["transcripts"])
            except ValueError as exc:
                raise AvforgeError(f"transcripts: {exc}", path=path) from None
    return out


def dataset_words(layout: str, root, split: str, files) -> dict[str, np.ndarray]:
    """Word timings of ``files`` (record keys) of one split, for those whose metadata has them (none
    at all is not an error: such videos get pseudo-forgeries at random frames)."""
    files = set(files)
    return _lavdf_words(root, files) if layout == "lavdf" else _avdeepfake1m_words(root, split, files)


def write_words(path, words: dict[str, np.ndarray]) -> None:
    """Write a word-timings file atomically (times rounded to 0.1 ms)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for file, spans in sorted(words.items()):
            f.write(orjson.dumps([file, np.round(spans, 4).tolist()]) + b"\n")


def _timed_video(row) -> tuple[str, np.ndarray]:
    if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str)):
        raise ValueError("expected [file, [[start_s, end_s], ...]]")
    return row[0], parse_words(row[1])


def read_words(path) -> dict[str, np.ndarray]:
    """A word-timings file -> {file: (W, 2) seconds}; a malformed line is an error naming the file."""
    return dict(parse_jsonl(path, _timed_video, missing="word-timings file not found"))
