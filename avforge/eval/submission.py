"""1M-Deepfakes Challenge submissions: build and write them (reading and checking: submission_io).

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

import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import orjson

from avforge.core.errors import AvforgeError
from avforge.core.fileio import atomic_path
from avforge.core.types import Proposals
from avforge.eval.flat import Ragged, flatten, listing
from avforge.eval.reader import MAX_BYTES, check_scores

JSON_MEMBER = "prediction.json"
TXT_MEMBER = "prediction.txt"
MAX_PER_VIDEO = 100
SCORE_DECIMALS, TIME_DECIMALS, DETECTION_DECIMALS = 4, 2, 6
CHUNK_ROWS = 1 << 21  # proposals formatted at once: bounds the temporaries whatever the test set size
PLACEHOLDER = (1e-4, 0.0, 0.04)  # [score, start_s, end_s] written for a video left without proposals
EMPTY_POLICIES = ("placeholder", "keep")


@dataclass
class Submission:
    """What goes into a submission, plus messages for the user."""

    localization: dict[str, np.ndarray] | Ragged | None = None  # file -> (N, 3) [score, start_s, end_s] (Ragged when read)
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
    check_files(dict.fromkeys(raw.files), files, source, allow_missing=True)
    flat = _with_all(raw, files)
    chunks = list(_video_chunks(flat.offsets))
    for what, test in (("videos with NaN/inf values", lambda r: ~np.isfinite(r).all(axis=1)),
                       ("videos with reversed segments (start > end)", lambda r: r[:, 1] > r[:, 2])):
        bad_videos = []
        for lo, hi in chunks:
            video, rows = _chunk(flat, lo, hi)
            bad_videos.extend(lo + np.unique(video[test(rows)]))
        if bad_videos:
            raise AvforgeError(listing(what, [files[i] for i in bad_videos], len(bad_videos)), path=source)

    limits = np.array([_end_limit(durations.get(f)) for f in files])
    result, dropped, emptied, capped = {}, 0, 0, 0
    for lo, hi in chunks:  # per-video work, a bounded number of proposals at a time
        video, rows = _chunk(flat, lo, hi)
        # Clip to the video on the 2-decimal grid (floor), so rounding can never step past its end.
        limit = limits[lo:hi][video]
        score = np.round(rows[:, 0], SCORE_DECIMALS)
        start = np.round(np.clip(rows[:, 1], 0.0, limit), TIME_DECIMALS)
        end = np.round(np.clip(rows[:, 2], 0.0, limit), TIME_DECIMALS)
        positive, nonempty = score > 0, start < end
        order = np.lexsort((-rows[:, 0], video))  # by video, then raw score descending; ties keep input order
        order = order[(positive & nonempty)[order]]
        kept_counts = np.bincount(video[order], minlength=hi - lo)
        rank = np.arange(len(order)) - np.repeat(np.cumsum(kept_counts) - kept_counts, kept_counts)
        order = order[rank < max_per_video]
        out = np.ascontiguousarray(np.stack([score, start, end], axis=1)[order])
        counts = np.minimum(kept_counts, max_per_video)
        result.update(zip(files[lo:hi], np.split(out, np.cumsum(counts)[:-1])))
        dropped += int((~positive).sum())
        emptied += int((positive & ~nonempty).sum())
        capped += int((kept_counts > max_per_video).sum())

    sub.notes.append(f"dropped {dropped} proposals with score <= 0 after rounding and {emptied} empty after "
                     f"rounding/clipping; capped {capped} videos at {max_per_video}")
    unknown_duration = [f for f in files if f not in durations]
    if durations and unknown_duration:
        sub.warnings.append(listing("videos without a duration, not clipped at their end", unknown_duration))
    _fill_empty(result, durations, empty, sub)
    return result


def _video_chunks(offsets: np.ndarray, rows: int = CHUNK_ROWS):
    """(first, end) video ranges of about ``rows`` proposals each (at least one video)."""
    lo, n = 0, len(offsets) - 1
    while lo < n:
        hi = max(lo + 1, int(np.searchsorted(offsets, offsets[lo] + rows, side="right")) - 1)
        yield lo, min(hi, n)
        lo = min(hi, n)


def _chunk(flat: Ragged, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """(video index relative to ``lo`` of each row, rows) of videos ``lo:hi``."""
    counts = np.diff(flat.offsets[lo:hi + 1])
    return np.repeat(np.arange(hi - lo), counts), flat.rows[flat.offsets[lo]:flat.offsets[hi]]


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
    tiny = []
    for f in blank:
        end_s = min(PLACEHOLDER[2], _end_limit(durations.get(f)))
        if end_s <= 0:  # shorter than one 0.01 s step: the smallest writable segment, never []
            end_s = 10.0**-TIME_DECIMALS
            tiny.append(f)
        result[f] = np.array([[PLACEHOLDER[0], PLACEHOLDER[1], end_s]])
    sub.warnings.append(listing(f"videos have no proposal and get one placeholder {list(PLACEHOLDER)}",
                                blank))
    if tiny:
        sub.warnings.append(listing("videos shorter than 0.01 s get the placeholder [0.0001, 0.0, 0.01]", tiny))


def _format_detection(scores: Mapping[str, float], files: list[str]) -> dict[str, float]:
    check_files(scores, files, "video scores", allow_missing=False)
    values = check_scores({f: scores[f] for f in files}, "video scores")
    return {f: round(v, DETECTION_DECIMALS) for f, v in values.items()}


def check_files(found: Mapping, files: Sequence[str], source: str, *, allow_missing: bool) -> None:
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

ZIP_LEVEL = 1  # deflate level of submission zips

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
    with atomic_path(out, clean_stale=True) as tmp:  # and temps a killed submit left
        if suffix == ".zip":
            # zlib level 1: 7.6x less CPU than the default 6 for 22 % more bytes (measured on a 343k-video
            # prediction.json: deflate at level 6 was 45 of submit's 80 CPU s; benchmarks/bench_scale.py)
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
        else:
            tmp.write_bytes(next(iter(members.values())))
        size = tmp.stat().st_size
        if size >= MAX_BYTES:
            raise AvforgeError(f"submission is {size / 1e9:.2f} GB, over the 4 GB limit", path=out)
    return submission_report(sub, out, tuple(members), size)


def submission_report(sub: Submission, path, members: tuple[str, ...], size: int) -> SubmissionReport:
    loc = sub.localization or {}
    counts = [len(r) for r in loc.values()]
    return SubmissionReport(path=str(path), members=members, n_videos=len(loc), n_proposals=int(sum(counts)),
                            n_empty=counts.count(0), n_scores=len(sub.detection or {}), size_bytes=size,
                            warnings=tuple(sub.warnings), notes=tuple(sub.notes))


# ---------------------------------------------------------------------------- reading and checking
