"""Which unit a prediction file is in, so that frame indices read as seconds (or the reverse) are
refused instead of scored into a table of zeros."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from avforge.core.timegrid import VIDEO_GRID
from avforge.eval.flat import Ragged

TOLERANCE_S = 1.0  # proposals may overrun the video a little (rounding, padding)


def unit_problem(predictions: Ragged, durations: Mapping[str, float], frames: bool) -> str | None:
    """One line saying why the proposal times do not look like the unit the user claimed, or None.

    Seconds claimed (``frames`` False): more than half of the videos with a known duration and any
    proposal end beyond it (+ TOLERANCE_S) -> frame indices. Frame indices claimed: every such video
    ends within its duration counted in seconds, i.e. all proposals would sit in the first 1/25 of
    their video -> seconds. Videos without a known duration are not looked at.
    """
    duration = np.fromiter((durations.get(f, np.nan) for f in predictions.files), dtype=np.float64,
                           count=len(predictions.files))
    with_rows = np.flatnonzero(predictions.counts > 0)
    # segments between consecutive starts of videos with rows are exactly those videos' rows
    end = np.maximum.reduceat(predictions.rows[:, 2], predictions.offsets[with_rows]) if len(with_rows) else np.zeros(0)
    known = ~np.isnan(duration[with_rows])
    if not known.any():
        return None
    files, end, duration = [predictions.files[i] for i in with_rows[known]], end[known], duration[with_rows][known]
    beyond = end > duration + TOLERANCE_S
    if not frames and np.count_nonzero(beyond) * 2 > len(files):
        i = int(np.argmax(end - duration))
        return (f"proposal times look like frame indices, not seconds: {np.count_nonzero(beyond)} of "
                f"{len(files)} videos have proposals ending after the video (e.g. {files[i]} "
                f"ends at {end[i]:g} > {duration[i]:g} s); pass --frames (frame indices at {VIDEO_GRID.fps:g} fps)")
    if frames and len(files) > 1 and np.all(end <= duration + TOLERANCE_S):
        return (f"proposal times look like seconds, not frame indices: in all {len(files)} videos with a "
                f"duration they end within the video's length in seconds; drop --frames")
    return None
