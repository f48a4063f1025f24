"""Audio loudness per video frame (for drawing a waveform) and single frames at given times.

Both read only what they need: audio is decoded in one-minute spans at a low rate, frames by
one batch of seeks, so a one-hour file costs one pass over its audio and a few dozen frames.
"""
from __future__ import annotations

import numpy as np

from avforge.core.timegrid import TimeGrid
from avforge.io.audio_span import read_audio_span
from avforge.io.media import AVReader

PEAK_RATE = 8000  # Hz: enough for a loudness envelope, a third of the work of 16 kHz
SPAN_S = 60.0


def audio_peaks(path, n_frames: int, fps: float = 25.0) -> np.ndarray | None:
    """(n_frames,) float32 peak |amplitude| of the audio of each frame of a ``fps`` grid, or None
    when the file has no audio stream."""
    grid = TimeGrid(fps)
    per_frame = int(round(grid.samples_per_frame(PEAK_RATE)))
    with AVReader(path, missing_audio="silence") as media:
        if media.audio_stream is None:
            return None
        peaks = np.zeros(n_frames, dtype=np.float32)
        span = grid.num_frames(SPAN_S)
        for first in range(0, n_frames, span):
            count = min(span, n_frames - first)
            wave = read_audio_span(media.container, media.audio_stream, first * per_frame, count * per_frame,
                                   PEAK_RATE, path=media.path)
            peaks[first:first + count] = np.abs(wave).reshape(count, per_frame).max(axis=1)
        return peaks


def frames_at(path, times_s) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB: the native frame nearest to each of ``times_s`` (seconds)."""
    with AVReader(path, missing_audio="silence") as media:
        return media._frames_at(np.atleast_1d(np.asarray(times_s, dtype=np.float64)))
