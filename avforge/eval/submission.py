"""1M-Deepfakes Challenge submissions: build, write, read and check them.

Task 2 (localization) ``prediction.json``: ``{file: [[score, start_s, end_s], ...]}``, every test file
present, each list sorted by score (the official evaluator matches in file order). Task 1 (detection)
``prediction.txt``: one ``file;probability_fake`` line per test file, no header. The upload is a zip
holding exactly these member names at its top level.

Decisions:
- A video with no proposal left gets, by default, ONE placeholder ``[0.0001, 0.0, 0.04]`` (lowest
  writable score, first frame) instead of ``[]``: the official evaluator (avdeepfake1m 0.0.4, which
  the challenge scores with) panics on an empty list (ControlNet/AV-Deepfake1M issue #24), so one
  ``[]`` would fail the whole upload. Ranked last, the placeholder leaves AP unchanged and can only
  add recall. ``empty="keep"`` writes ``[]`` instead; both are reported as warnings.
- Task 1 scores must be probabilities: NaN/inf or outside [0, 1] is an error, not a warning (AUC
  ignores the scale, but a logit file is a bug; apply a sigmoid first).
"""
from __future__ import annotations

import json
import math
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import orjson

from avforge.core.errors import AvforgeError
from avforge.core.fileio import atomic_path
from avforge.core.timegrid import VIDEO_GRID
from avforge.core.types import Proposals
from avforge.eval.flat import Ragged, flatten, listing
from avforge.eval.validation import validate_flat

JSON_MEMBER = "prediction.json"
TXT_MEMBER = "prediction.txt"
MAX_BYTES = 4_000_000_000  # "< 4 GB": decimal GB, the stricter reading
MAX_PER_VIDEO = 100
SCORE_DECIMALS, TIME_DECIMALS, DETECTION_DECIMALS = 4, 2, 6
PLACEHOLDER = (1e-4, 0.0, 0.04)  # [score, start_s, end_s] written for a video left without proposals
EMPTY_POLICIES = ("placeholder", "keep")


@dataclass
class Submission:
    """What goes into a submission, plus messages for the user."""

    localization: dict[str, np.ndarray] | None = None  # file -> (N, 3) [score, start_s, end_s] (lists when read)
    detection: dict[str, float] | None = None  # file -> probability of fake
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the formatting dropped or capped


@dataclass(frozen=True)
class SubmissionReport:
    """Counts of a written or checked submission."""

    path: str
    members: tuple[str, ...]
    n_videos: int = 0  # videos in prediction.json
    n_proposals: int = 0
    n_empty: int = 0  # videos with an empty list
    n_scores: int = 0  # lines in prediction.txt
    size_bytes: int = 0
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        parts = []
        if JSON_MEMBER in self.members:
            parts.append(f"{JSON_MEMBER} ({self.n_videos} videos, {self.n_proposals} proposals, "
                         f"{self.n_empty} empty)")
        if TXT_MEMBER in self.members:
            parts.append(f"{TXT_MEMBER} ({self.n_scores} scores)")
        return f"{self.path}: {', '.join(parts)}; {self.size_bytes / 1e6:.1f} MB"


# ---------------------------------------------------------------------------- building

def make_submission(proposals: Mapping[str, Sequence | Proposals] | Ragged | None = None,
                    scores: Mapping[str, float] | None = None, *, files: Sequence[str],
                    durations: Mapping[str, float] | None = None, max_per_video: int = MAX_PER_VIDEO,
                    empty: str = "placeholder", source: str = "proposals") -> Submission:
    """Format raw proposals (Task 2) and/or video scores (Task 1) for the test ``files``.

    Proposals: sorted by score (stable), scores rounded to 4 decimals and times to 2, clipped to
    ``[0, duration]`` where ``durations`` knows the video, rows with score <= 0 or start >= end after
    that dropped, at most ``max_per_video`` kept. Raw NaN/inf, reversed rows (start > end), files
    outside ``files`` and, for scores, missing files are errors; ``source`` names the proposals in them.
    """
    if proposals is None and scores is None:
        raise AvforgeError("nothing to submit: give proposals and/or video scores")
    if empty not in EMPTY_POLICIES:
        raise AvforgeError(f"empty must be one of {EMPTY_POLICIES}, got {empty!r}")
    files = list(files)
    sub = Submission()
    if proposals is not None:
        sub.localization = _format_localization(proposals, files, durations or {}, max_per_video,
                                                empty, sub, source)
    if scores is not None:
        sub.detection = _format_detection(scores, files)
    return sub


def _format_localization(raw, files, durations, max_per_video, empty, sub, source) -> dict[str, np.ndarray]:
    if max_per_video < 1:
        raise AvforgeError(f"max_per_video must be >= 1, got {max_per_video}")
    if not isinstance(raw, Ragged):
        raw = flatten({f: _rows(v) for f, v in raw.items()}, source=source)
    _check_files(dict.fromkeys(raw.files), files, source, allow_missing=True)
    flat = _with_all(raw, files)
    rows, video = flat.rows, flat.video_of_row()
    for what, bad in (("videos with NaN/inf values", ~np.isfinite(rows).all(axis=1)),
                      ("videos with reversed segments (start > end)", rows[:, 1] > rows[:, 2])):
        if bad.any():
            bad_videos = np.unique(video[bad])
            raise AvforgeError(listing(what, [files[i] for i in bad_videos], len(bad_videos)), path=source)

    # Clip to the video on the 2-decimal grid (floor), so rounding can never step past its end.
    limit = np.array([_end_limit(durations.get(f)) for f in files])[video]
    score = np.round(rows[:, 0], SCORE_DECIMALS)
    start = np.round(np.clip(rows[:, 1], 0.0, limit), TIME_DECIMALS)
    end = np.round(np.clip(rows[:, 2], 0.0, limit), TIME_DECIMALS)
    positive, nonempty = score > 0, start < end
    order = np.lexsort((-rows[:, 0], video))  # by video, then raw score descending; ties keep input order
    order = order[(positive & nonempty)[order]]
    kept_counts = np.bincount(video[order], minlength=len(files))
    rank = np.arange(len(order)) - np.repeat(np.cumsum(kept_counts) - kept_counts, kept_counts)
    order = order[rank < max_per_video]
    out = np.ascontiguousarray(np.stack([score, start, end], axis=1)[order])
    counts = np.minimum(kept_counts, max_per_video)
    result = dict(zip(files, np.split(out, np.cumsum(counts)[:-1])))

    sub.notes.append(f"dropped {int((~positive).sum())} proposals with score <= 0 after rounding and "
                     f"{int((positive & ~nonempty).sum())} empty after rounding/clipping; "
                     f"capped {int((kept_counts > max_per_video).sum())} videos at {max_per_video}")
    unknown_duration = [f for f in files if f not in durations]
    if durations and unknown_duration:
        sub.warnings.append(listing("videos without a duration, not clipped at their end", unknown_duration))
    _fill_empty(result, durations, empty, sub)
    return result


def _with_all(raw: Ragged, files: list[str]) -> Ragged:
    """``raw`` in the order of ``files``, with an empty list for each file it lacks."""
    present = set(raw.files)
    missing = [f for f in files if f not in present]
    offsets = np.concatenate([raw.offsets, np.full(len(missing), raw.offsets[-1])])
    return Ragged(files=raw.files + missing, offsets=offsets, rows=raw.rows).take(files)


def _end_limit(duration_s: float | None) -> float:
    """The last time on the 2-decimal grid inside the video (inf when its duration is unknown)."""
    return np.inf if duration_s is None else math.floor(duration_s * 10**TIME_DECIMALS + 1e-6) / 10**TIME_DECIMALS


def _rows(value) -> np.ndarray | Sequence:
    if isinstance(value, Proposals):
        return np.stack([value.scores, value.starts_s, value.ends_s], axis=1).astype(np.float64)
    return value


def _fill_empty(result: dict, durations: Mapping[str, float], empty: str, sub: Submission) -> None:
    blank = [f for f, r in result.items() if len(r) == 0]
    if not blank:
        return
    if empty == "keep":
        sub.warnings.append(listing("videos have no proposal and are written as [] (the official "
                                    "avdeepfake1m 0.0.4 evaluator fails on an empty list)", blank))
        return
    for f in blank:
        end_s = min(PLACEHOLDER[2], _end_limit(durations.get(f)))
        if end_s > 0:
            result[f] = np.array([[PLACEHOLDER[0], PLACEHOLDER[1], end_s]])
    sub.warnings.append(listing(f"videos have no proposal and get one placeholder {list(PLACEHOLDER)}",
                                blank))


def _format_detection(scores: Mapping[str, float], files: list[str]) -> dict[str, float]:
    _check_files(scores, files, "video scores", allow_missing=False)
    values = {f: _probability(scores[f]) for f in files}
    bad = [f for f, v in values.items() if v is None]
    if bad:
        raise AvforgeError(listing("scores that are not probabilities in [0, 1] (NaN/inf/out of range)", bad),
                           path="video scores")
    return {f: round(v, DETECTION_DECIMALS) for f, v in values.items()}


def _probability(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if 0.0 <= v <= 1.0 else None  # NaN fails both comparisons


def _check_files(found: Mapping, files: Sequence[str], source: str, *, allow_missing: bool) -> None:
    """One error listing the files of ``found`` outside ``files`` (and those missing, unless allowed)."""
    expected = set(files)
    problems = []
    if not allow_missing:
        missing = [f for f in files if f not in found]
        if missing:
            problems.append(listing("missing files (expected but absent)", missing))
    unknown = [f for f in found if f not in expected]
    if unknown:
        problems.append(listing("unknown files (not in the test list)", unknown))
    if problems:
        raise AvforgeError("; ".join(problems), path=source)


# ---------------------------------------------------------------------------- writing

def localization_bytes(localization: Mapping[str, np.ndarray]) -> bytes:
    # orjson writes float64 arrays with the shortest round-trip repr: 0.9128 stays "0.9128"
    return orjson.dumps(localization, option=orjson.OPT_SERIALIZE_NUMPY)


def detection_bytes(detection: Mapping[str, float]) -> bytes:
    return "".join(f"{f};{np.format_float_positional(s, trim='-')}\n" for f, s in detection.items()).encode()


def write_submission(sub: Submission, out) -> SubmissionReport:
    """Write ``out`` atomically: a ``.zip`` holding what ``sub`` has, or one ``.json`` / ``.txt``."""
    out = Path(out)
    suffix = out.suffix.lower()
    members = {}
    if suffix in (".zip", ".json") and sub.localization is not None:
        members[JSON_MEMBER] = localization_bytes(sub.localization)
    if suffix in (".zip", ".txt") and sub.detection is not None:
        members[TXT_MEMBER] = detection_bytes(sub.detection)
    wanted = {".json": "localization proposals", ".txt": "video scores", ".zip": "proposals or video scores"}
    if suffix not in wanted:
        raise AvforgeError("output must end in .zip, .json or .txt", path=out)
    if not members:
        raise AvforgeError(f"a {suffix} output needs {wanted[suffix]}", path=out)
    total = sum(map(len, members.values()))
    if total >= MAX_BYTES:
        raise AvforgeError(f"submission would be {total / 1e9:.2f} GB, over the 4 GB limit "
                           "(lower the proposals per video)", path=out)
    with atomic_path(out) as tmp:
        if suffix == ".zip":
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
        else:
            tmp.write_bytes(next(iter(members.values())))
        size = tmp.stat().st_size
        if size >= MAX_BYTES:
            raise AvforgeError(f"submission is {size / 1e9:.2f} GB, over the 4 GB limit", path=out)
    return _report(sub, out, tuple(members), size)


def _report(sub: Submission, path, members: tuple[str, ...], size: int) -> SubmissionReport:
    loc = sub.localization or {}
    counts = [len(r) for r in loc.values()]
    return SubmissionReport(path=str(path), members=members, n_videos=len(loc), n_proposals=int(sum(counts)),
                            n_empty=counts.count(0), n_scores=len(sub.detection or {}), size_bytes=size,
                            warnings=tuple(sub.warnings), notes=tuple(sub.notes))


# ---------------------------------------------------------------------------- reading and checking

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
        score = _probability(value)
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
        _check_files(sub.detection, files, _source(path, TXT_MEMBER), allow_missing=False)
    return _report(sub, path, members, size)


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
    out = {}
    try:
        for r in records:
            if r.get("duration_s", r.get("duration")) is not None:
                out[r["file"]] = float(r.get("duration_s", r.get("duration")))
            elif r.get("video_frames") is not None:
                out[r["file"]] = float(VIDEO_GRID.to_seconds(r["video_frames"]))
    except (TypeError, ValueError):
        raise AvforgeError(f"duration of {r['file']} is not a number", path=path) from None
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
