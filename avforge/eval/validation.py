"""Checks run before scoring: everything that crashes the official evaluator becomes one clear error."""
from __future__ import annotations

import warnings
from typing import Iterable, Mapping, Sequence

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.eval.flat import Ragged, flatten, listing


def validate_predictions(predictions: Mapping[str, Sequence[Sequence[float]]],
                         expected_files: Iterable[str] | None = None, *, source: str = "predictions",
                         allow_extra: bool = False) -> None:
    """Raise AvforgeError (one line naming ``source``) if ``{file: [[score, start, end], ...]}`` is unusable.

    Problems, each listed with its first few offending files and a count: a file of ``expected_files``
    absent (missing), a file not in ``expected_files`` (unknown, unless ``allow_extra``), a row that is
    not 3 numbers (malformed), a NaN/inf value, ``start >= end``, ``start < 0``. An empty list is valid.
    """
    validate_flat(flatten(predictions, source=source), expected_files, source=source, allow_extra=allow_extra)


def validate_flat(flat: Ragged, expected_files: Iterable[str] | None = None, *,
                  source: str = "predictions", allow_extra: bool = False, geometry: str = "error") -> None:
    """validate_predictions on already flattened rows (vectorised over all rows at once).

    The last two columns are start and end, so ground-truth segments (rows ``[start, end]``) work too.
    ``geometry="warn"``: ``start >= end`` and a negative start are a UserWarning, not an error (the
    official evaluator scores such rows; the drop-in API does too).
    """
    if geometry not in ("error", "warn"):
        raise ValueError(f"geometry must be 'error' or 'warn', got {geometry!r}")
    problems = []
    if expected_files is not None:
        expected = list(expected_files)
        present = set(flat.files)
        missing = [f for f in expected if f not in present]
        if missing:
            problems.append(listing("missing files (expected but absent)", missing))
        if not allow_extra:
            known = set(expected)
            unknown = [f for f in flat.files if f not in known]
            if unknown:
                problems.append(listing("unknown files (not expected)", unknown))
    rows = flat.rows
    video = None
    checks = (
        ("videos with NaN/inf values", lambda: ~np.isfinite(rows).all(axis=1), "error"),
        ("videos with start >= end", lambda: rows[:, -2] >= rows[:, -1], geometry),
        ("videos with negative start", lambda: rows[:, -2] < 0, geometry),
    )
    notes = []
    for what, bad_rows, severity in checks:
        bad = bad_rows()
        if bad.any():
            video = flat.video_of_row() if video is None else video
            bad_videos = np.unique(video[bad])
            (problems if severity == "error" else notes).append(
                listing(what, [flat.files[i] for i in bad_videos[:5]], len(bad_videos)))
    if notes:
        warnings.warn(f"{source}: " + "; ".join(notes) + " (scored as given, like the official evaluator)",
                      stacklevel=3)
    if problems:
        raise AvforgeError("; ".join(problems), path=source)
