"""The only place where seconds become frame indices and back."""
from __future__ import annotations

# Times read from containers are often float32 (2.92 s -> 2.92000008): a thousandth of a frame
# of slack keeps such a time on the frame it names.
_SLACK_FRAMES = 1e-3

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimeGrid:
    """A uniform grid of frames: frame ``i`` covers ``[i / fps, (i + 1) / fps)`` seconds."""

    fps: float = 25.0

    def num_frames(self, duration_s: float) -> int:
        """Frames whose start lies inside ``duration_s`` (tolerant to float noise)."""
        return max(0, int(math.ceil(duration_s * self.fps - _SLACK_FRAMES)))

    def index_of(self, t_s: float) -> int:
        """Index of the frame that contains time ``t_s``."""
        return int(math.floor(t_s * self.fps + _SLACK_FRAMES))

    def time_of(self, idx) -> np.ndarray | float:
        """Start time in seconds of frame ``idx`` (scalar or array)."""
        return np.asarray(idx, dtype=np.float64) / self.fps if np.ndim(idx) else float(idx) / self.fps

    def centers_s(self, n_frames: int) -> np.ndarray:
        """(T,) centre time of every frame."""
        return (np.arange(n_frames, dtype=np.float64) + 0.5) / self.fps

    def segments_to_mask(self, segments, n_frames: int) -> np.ndarray:
        """(T,) bool: frames whose centre lies inside any ``(start_s, end_s)`` segment."""
        centers = self.centers_s(n_frames)
        mask = np.zeros(n_frames, dtype=bool)
        for start_s, end_s in segments:
            mask |= (centers >= start_s) & (centers < end_s)
        return mask

    def frame_runs(self, segments) -> np.ndarray:
        """(N, 2) int ``[start, stop)``: the frames whose centre lies inside each ``(start_s, end_s)``
        (the frames ``segments_to_mask`` sets)."""
        t = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
        k = np.floor(t * self.fps - 0.5)  # the first centre >= t is frame k or k + 1 (same test as the mask)
        return (k + ((k + 0.5) / self.fps < t)).astype(np.int64)

    def mask_to_segments(self, mask) -> list[tuple[float, float]]:
        """Runs of True frames as ``(start_s, end_s)`` segments."""
        m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
        edges = np.flatnonzero(m[1:] != m[:-1])
        return [(s / self.fps, e / self.fps) for s, e in zip(edges[::2], edges[1::2])]

    def to_frames(self, t_s) -> np.ndarray:
        """Seconds to (fractional) frame positions, for boundary regression targets."""
        return np.asarray(t_s, dtype=np.float64) * self.fps

    def to_seconds(self, frames) -> np.ndarray:
        """(Fractional) frame positions to seconds."""
        return np.asarray(frames, dtype=np.float64) / self.fps

    def samples_per_frame(self, sample_rate: int) -> float:
        return sample_rate / self.fps


VIDEO_GRID = TimeGrid(25.0)
