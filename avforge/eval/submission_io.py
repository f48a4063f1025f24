"""Reading and checking 1M-Deepfakes Challenge submissions (zip, prediction.json, prediction.txt),
test file lists, durations and video scores."""
from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.core.timegrid import VIDEO_GRID
from avforge.eval.flat import flatten, listing
from avforge.eval.submission import (JSON_MEMBER, MAX_BYTES, MAX_PER_VIDEO, TXT_MEMBER, Submission,
                                     SubmissionReport, check_files, probability, submission_report)
from avforge.eval.validation import validate_flat


def load_json_unique(data: bytes | str, source: str):
    """Parse JSON text; a key repeated inside one object is an error (``json`` would keep the last)."""
    def unique_keys(pairs):
        duplicates = [k for k, n in Counter(k for k, _ in pairs).items() if n > 1]
        if duplicates:
            raise AvforgeError(listing("duplicate keys", duplicates), path=source)
        return dict(pairs)

    try:
        return json.loads(data, object_pairs_hook=unique_keys)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AvforgeError(f"not valid JSON ({exc})", path=source) from None


def parse_localization(data: bytes | str, source: str = JSON_MEMBER) -> dict[str, list]:
    """``prediction.json`` as a dict; duplicate keys, non-JSON or a non-object are errors."""
    obj = load_json_unique(data, source)
    if not isinstance(obj, dict):
        raise AvforgeError("top level must be an object {file: [[score, start_s, end_s], ...]}", path=source)
    return obj


def read_localization(path) -> dict[str, list]:
    """A ``{file: [[score, start_s, end_s], ...]}`` JSON file (prediction.json or raw proposals)."""
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("file not found", path=path)
    return parse_localization(path.read_bytes(), str(path))


def parse_detection(text: str, source: str = TXT_MEMBER) -> dict[str, float]:
    """``prediction.txt`` (``file;score`` lines, blank lines skipped) as a dict.

    Errors, each with line numbers: a line that is not ``file;score``, a score that is not a number
    in [0, 1] (NaN/inf included), a file listed twice.
    """
    scores: dict[str, float] = {}
    line_of: dict[str, int] = {}
    bad, duplicates = [], []
    for lineno, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        if not line.strip():
            continue
        fields = [x.strip() for x in line.split(";")]
        if len(fields) != 2 or not fields[0]:
            bad.append(f"line {lineno} {line.strip()[:40]!r} is not 'file;score'")
            continue
        name, value = fields
        score = probability(value)
        if score is None:
            bad.append(f"line {lineno} score {value[:20]!r} is not a probability in [0, 1]")
        elif name in scores:
            duplicates.append(f"{name} (lines {line_of[name]} and {lineno})")
        else:
            scores[name], line_of[name] = score, lineno
    problems = [listing("bad lines", bad)] if bad else []
    if duplicates:
        problems.append(listing("duplicate files", duplicates))
    if problems:
        raise AvforgeError("; ".join(problems), path=source)
    return scores


def read_submission(path) -> Submission:
    """Read a ``.zip`` (exactly prediction.json and/or prediction.txt at its top level), ``.json`` or ``.txt``."""
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("file not found", path=path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return Submission(localization=read_localization(path))
    if suffix == ".txt":
        return Submission(detection=parse_detection(_decode(path.read_bytes(), str(path)), str(path)))
    if suffix != ".zip":
        raise AvforgeError("a submission is a .zip, .json or .txt file", path=path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            wrong = [n for n in names if n not in (JSON_MEMBER, TXT_MEMBER)]
            if wrong or not names or len(set(names)) != len(names):
                what = f"member(s) {wrong} not allowed" if wrong else "no or repeated members"
                raise AvforgeError(f"{what}: the zip must hold exactly {JSON_MEMBER} and/or {TXT_MEMBER} "
                                   "at its top level", path=path)
            data = {n: zf.read(n) for n in names}
    except (zipfile.BadZipFile, OSError) as exc:
        raise AvforgeError(f"not a readable zip ({exc})", path=path) from None
    sub = Submission()
    if JSON_MEMBER in data:
        sub.localization = parse_localization(data[JSON_MEMBER], _source(path, JSON_MEMBER))
    if TXT_MEMBER in data:
        source = _source(path, TXT_MEMBER)
        sub.detection = parse_detection(_decode(data[TXT_MEMBER], source), source)
    return sub


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise AvforgeError("not UTF-8 text", path=source) from None


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
        flat = flatten(sub.localization, source=source)
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
        names = [line.strip() for line in _decode(path.read_bytes(), str(path)).lstrip("\ufeff").splitlines()
                 if line.strip()]
    repeated = [n for n, k in Counter(names).items() if k > 1]
    if repeated:
        raise AvforgeError(listing("files listed twice", repeated), path=path)
    return names


def read_durations(path) -> dict[str, float]:
    """Video durations (seconds) from ``{file: seconds}`` or metadata records carrying ``duration_s``
    (avforge), ``duration`` (LAV-DF) or ``video_frames`` (AV-Deepfake1M, 25 fps)."""
    records = _records(Path(path))
    if isinstance(records, dict):
        records = [{"file": f, "duration_s": d} for f, d in records.items()]
    return durations_of_records(records, source=str(path))


def durations_of_records(records: Sequence[dict], *, source: str = "metadata") -> dict[str, float]:
    """``{file: seconds}`` of the records that carry ``duration_s``, ``duration`` or ``video_frames`` (25 fps)."""
    out = {}
    try:
        for r in records:
            if r.get("duration_s", r.get("duration")) is not None:
                out[r["file"]] = float(r.get("duration_s", r.get("duration")))
            elif r.get("video_frames") is not None:
                out[r["file"]] = float(VIDEO_GRID.to_seconds(r["video_frames"]))
    except (TypeError, ValueError):
        raise AvforgeError(f"duration of {r['file']} is not a number", path=source) from None
    return out


def _records(path: Path):
    if not path.is_file():
        raise AvforgeError("file not found", path=path)
    obj = load_json_unique(path.read_bytes(), str(path))
    if isinstance(obj, list) and all(isinstance(r, dict) and "file" in r for r in obj):
        return obj
    if isinstance(obj, dict):
        return obj
    raise AvforgeError("expected a list of records with 'file' or an object keyed by file", path=path)


def read_video_scores(path) -> dict[str, float]:
    """Task 1 scores from ``{file: score}`` JSON or ``file;score`` text (checked like prediction.txt)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        obj = _records(path)
        if not isinstance(obj, dict):
            raise AvforgeError("expected an object {file: score}", path=path)
        return obj
    if not path.is_file():
        raise AvforgeError("file not found", path=path)
    return parse_detection(_decode(path.read_bytes(), str(path)), str(path))
