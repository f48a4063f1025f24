"""Reading and checking 1M-Deepfakes Challenge submissions (zip, prediction.json, prediction.txt),
test file lists, durations and video scores."""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from avforge.core.errors import AvforgeError, shown
from avforge.core.timegrid import VIDEO_GRID
from avforge.eval.flat import listing
from avforge.eval.reader import (MAX_BYTES, decode_text, parse_json, parse_predictions, parse_score_lines, read_bytes,
                                 read_scores, read_zip)
from avforge.eval.submission import (JSON_MEMBER, MAX_PER_VIDEO, TXT_MEMBER, Submission, SubmissionReport,
                                     check_files, submission_report)
from avforge.eval.validation import validate_flat


def read_submission(path) -> Submission:
    """Read a ``.zip`` (exactly prediction.json and/or prediction.txt at its top level), ``.json`` or ``.txt``
    with the one reader (avforge.eval.reader: strict, bounded)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".zip", ".json", ".txt"):
        raise AvforgeError("a submission is a .zip, .json or .txt file", path=path)
    data = read_zip(path, (JSON_MEMBER, TXT_MEMBER)) if suffix == ".zip" else {
        JSON_MEMBER if suffix == ".json" else TXT_MEMBER: read_bytes(path)}
    sub = Submission()
    if JSON_MEMBER in data:
        sub.localization = parse_predictions(data.pop(JSON_MEMBER), _source(path, JSON_MEMBER))
    if TXT_MEMBER in data:
        source = _source(path, TXT_MEMBER)
        sub.detection = parse_score_lines(decode_text(data.pop(TXT_MEMBER), source), source)
    return sub


def validate_submission(path, files: Sequence[str] | None = None) -> SubmissionReport:
    """Check a submission made anywhere; raise AvforgeError (one line) on what would fail or be misscored.

    With ``files`` (the test list) every listed file must be present and no other. Warnings (in the
    report): empty lists, lists not sorted by score, more than 100 proposals in a video, no ``files``.
    """
    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    if size >= MAX_BYTES:
        raise AvforgeError(f"{size / 1e9:.2f} GB, over the 4 GB limit", path=path)
    sub = read_submission(path)
    members = tuple(m for m, part in ((JSON_MEMBER, sub.localization), (TXT_MEMBER, sub.detection))
                    if part is not None)
    if files is None:
        sub.warnings.append("no test file list given: completeness not checked")
    if sub.localization is not None:
        source = _source(path, JSON_MEMBER)
        flat = sub.localization
        validate_flat(flat, files, source=source)
        _warn_localization(flat, sub)
        sub.localization = dict(zip(flat.files, np.split(flat.rows, flat.offsets[1:-1])))
    if sub.detection is not None and files is not None:
        check_files(sub.detection, files, _source(path, TXT_MEMBER), allow_missing=False)
    return submission_report(sub, path, members, size)


def _source(path: Path, member: str) -> str:
    """How errors name a member: ``sub.zip:prediction.json`` inside a zip, else the file itself."""
    return f"{path}:{member}" if path.suffix.lower() == ".zip" else str(path)


def _warn_localization(flat, sub: Submission) -> None:
    counts = flat.counts
    empty = [f for f, n in zip(flat.files, counts) if n == 0]
    if empty:
        sub.warnings.append(listing("videos with an empty list (the official avdeepfake1m 0.0.4 evaluator "
                                    "fails on them)", empty))
    video = flat.video_of_row()
    rising = (flat.rows[1:, 0] > flat.rows[:-1, 0]) & (video[1:] == video[:-1])
    if rising.any():
        bad = np.unique(video[1:][rising])
        sub.warnings.append(listing("videos not sorted by score (the official evaluator matches in file order)",
                                    [flat.files[i] for i in bad], len(bad)))
    long = [f for f, n in zip(flat.files, counts) if n > MAX_PER_VIDEO]
    if long:
        sub.warnings.append(listing(f"videos with more than {MAX_PER_VIDEO} proposals", long))


# ---------------------------------------------------------------------------- inputs

def read_file_list(path) -> list[str]:
    """Test files from ``test_files.txt`` (one per line) or a metadata JSON (records with ``file``)."""
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("file not found", path=path)
    if path.suffix.lower() == ".json":
        records = _records(path)
        names = [r["file"] for r in records] if isinstance(records, list) else list(records)
    else:
        names = [line.strip() for line in decode_text(read_bytes(path), str(path)).splitlines() if line.strip()]
    repeated = [n for n, k in Counter(names).items() if k > 1]
    if repeated:
        raise AvforgeError(listing("files listed twice", repeated), path=path)
    return names


def read_durations(path) -> dict[str, float]:
    """Video durations (seconds) from ``{file: seconds}`` or metadata records carrying ``duration_s``
    (avforge), ``duration`` (LAV-DF) or ``video_frames`` (AV-Deepfake1M, 25 fps); each a positive finite number."""
    records = _records(Path(path))
    if isinstance(records, dict):
        records = [{"file": f, "duration_s": d} for f, d in records.items()]
    return durations_of_records(records, source=str(path))


def durations_of_records(records: Sequence[dict], *, source: str = "metadata") -> dict[str, float]:
    """``{file: seconds}`` of the records that carry ``duration_s``, ``duration`` or ``video_frames`` (25 fps);
    each must be a positive finite number."""
    out, bad = {}, []
    for r in records:
        value = r.get("duration_s", r.get("duration"))
        frames = r.get("video_frames")
        if value is None and frames is not None:
            value = VIDEO_GRID.to_seconds(frames) if _real(frames) else frames
        if value is None:
            continue
        if not (_real(value) and math.isfinite(value) and value > 0):
            bad.append(f"{shown(r['file'])} ({shown(repr(value), 30)})")
        else:
            out[r["file"]] = float(value)
    if bad:
        raise AvforgeError(listing("durations that are not positive finite seconds", bad), path=source)
    return out


def _real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _records(path: Path):
    obj = parse_json(read_bytes(path), str(path))
    if isinstance(obj, list) and all(isinstance(r, dict) and isinstance(r.get("file"), str) for r in obj):
        return obj
    if isinstance(obj, dict):
        return obj
    raise AvforgeError("expected a list of records with a string 'file' or an object keyed by file", path=path)


def read_video_scores(path) -> dict[str, float]:
    """Task 1 scores from ``{file: score}`` JSON or ``file;score`` text: probabilities in [0, 1] (reader rules)."""
    return read_scores(path)
