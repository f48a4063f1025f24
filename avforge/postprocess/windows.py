"""Merging the candidate segments of the windows of one long clip (windows: ``core.windows``).

Candidate segments keep absolute seconds; each window contributes the candidates whose
midpoint lies in the frames it owns, so a segment seen by two windows is counted once.
Leftover near-duplicates are suppressed later by (Soft-)NMS.
"""
from __future__ import annotations

import numpy as np

from avforge.core.timegrid import VIDEO_GRID, TimeGrid
from avforge.core.types import Proposals
from avforge.core.windows import Window


def merge_proposals(windows: list[Window], proposals: list[Proposals], grid: TimeGrid = VIDEO_GRID) -> Proposals:
    """Candidates of all windows (absolute seconds), each from the window owning its midpoint."""
    keep_scores, keep_starts, keep_ends, keep_mod = [], [], [], []
    for i, (w, p) in enumerate(zip(windows, proposals)):
        starts, ends = np.asarray(p.starts_s, dtype=np.float64), np.asarray(p.ends_s, dtype=np.float64)
        mid = (starts + ends) / 2
        lo, hi = float(grid.time_of(w.keep_start_idx)), float(grid.time_of(w.keep_end_idx))
        own = (mid >= lo) & ((mid < hi) | (i == len(windows) - 1))
        keep_scores.append(np.asarray(p.scores, dtype=np.float64)[own])
        keep_starts.append(starts[own])
        keep_ends.append(ends[own])
        if p.modality is not None:
            keep_mod.extend(m for m, o in zip(p.modality, own) if o)
    has_mod = all(p.modality is not None for p in proposals)
    merged = Proposals(np.concatenate(keep_scores) if keep_scores else np.zeros(0),
                       np.concatenate(keep_starts) if keep_starts else np.zeros(0),
                       np.concatenate(keep_ends) if keep_ends else np.zeros(0),
                       tuple(keep_mod) if has_mod and proposals else None)
    return merged.sorted()
