"""Sliding-window plans and merging the per-window predictions of one long clip.

Frame probabilities are *stitched*, not averaged: each output frame is taken from the window in
which it lies farthest from a cut (an interior window edge; the clip's own ends are not cuts).
Every frame is then at least ``overlap // 2`` frames from any cut of the window it comes from,
so for a model whose receptive field reaches at most that far, and whose window starts are
multiples of its coarsest stride (``align_frames``), the stitched probabilities equal
whole-clip inference everywhere, not only in window centres. Averaging would mix in the values
computed next to a cut, which differ from whole-clip inference.

Candidate segments keep absolute seconds; each window contributes the candidates whose
midpoint lies in the frames it owns, so a segment seen by two windows is counted once.
Leftover near-duplicates are suppressed later by (Soft-)NMS.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.core.timegrid import VIDEO_GRID, TimeGrid
from avforge.core.types import Proposals


@dataclass(frozen=True)
class Window:
    """Frames ``[start_idx, end_idx)`` go through the model; ``[keep_start_idx, keep_end_idx)``
    of the merged output come from this window."""

    start_idx: int
    end_idx: int
    keep_start_idx: int
    keep_end_idx: int

    @property
    def num_frames(self) -> int:
        return self.end_idx - self.start_idx


def plan_windows(n_frames: int, window_frames: int, overlap_frames: int, align_frames: int = 1) -> list[Window]:
    """Windows of ``window_frames`` that cover ``n_frames``; starts are multiples of the hop
    ``window - overlap`` rounded down to ``align_frames``; the last window may be shorter."""
    if n_frames <= 0:
        return []
    hop = (window_frames - overlap_frames) // align_frames * align_frames
    if overlap_frames < 0 or hop < 1:
        raise AvforgeError(f"window of {window_frames} frames with overlap {overlap_frames} leaves no hop "
                           f"(aligned to {align_frames} frames); use a longer window or a smaller overlap")
    starts = [0]
    while starts[-1] + window_frames < n_frames:
        starts.append(starts[-1] + hop)
    ends = [min(s + window_frames, n_frames) for s in starts]
    cuts = [0] + [(nxt + end) // 2 for nxt, end in zip(starts[1:], ends[:-1])] + [n_frames]
    return [Window(s, e, cuts[i], cuts[i + 1]) for i, (s, e) in enumerate(zip(starts, ends))]


def stitch_frames(windows: list[Window], chunks: list[np.ndarray], n_frames: int) -> np.ndarray:
    """(n_frames, ...) merged from per-window arrays ``chunks[i]`` of shape (window i frames, ...)."""
    if len(windows) != len(chunks) or not chunks:
        raise ValueError("one chunk per window needed")
    out = np.zeros((n_frames,) + chunks[0].shape[1:], dtype=chunks[0].dtype)
    for w, chunk in zip(windows, chunks):
        if len(chunk) != w.num_frames:
            raise ValueError(f"chunk of {len(chunk)} frames for a window of {w.num_frames}")
        out[w.keep_start_idx:w.keep_end_idx] = chunk[w.keep_start_idx - w.start_idx:w.keep_end_idx - w.start_idx]
    return out


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
