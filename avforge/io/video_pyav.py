"""Native video frames by index, decoded with PyAV: the fallback for streams decord cannot convert.

decord 0.6.0 copies each RGB frame from a row-padded FFmpeg buffer and refuses when the padded
size differs ("DECORDArrayCopyFromTo: The size must exactly match"); measured with H.264 yuv420p,
widths 16, 24, 48 and 72 px fail, other even widths from 16 to 130 px pass. Such files are
still valid: here frame ``i`` is the ``i``-th presentation timestamp among the stream's packets
(the order decord indexes), decoded from the keyframe before the first requested frame.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from avforge.core.errors import AvforgeError


class PyAVFrames:
    """``get_batch(indices)`` -> (len(indices), H, W, 3) uint8 RGB, like decord's VideoReader."""

    def __init__(self, path: Path, num_frames: int):
        self.path = Path(path)
        self.container = av.open(str(path))
        try:
            self.stream = self.container.streams.video[0]
            pts = sorted(p.pts for p in self.container.demux(self.stream) if p.size and p.pts is not None)
        except BaseException:
            self.container.close()
            raise
        if len(pts) != num_frames:
            self.container.close()
            raise AvforgeError(f"corrupt video stream ({len(pts)} timed packets for {num_frames} frames)",
                               path=self.path)
        self.pts = np.asarray(pts, dtype=np.int64)

    def get_batch(self, indices) -> np.ndarray:
        wanted = self.pts[np.asarray(indices, dtype=np.int64)]
        todo = set(wanted.tolist())
        found: dict[int, np.ndarray] = {}
        try:
            self.container.seek(int(wanted.min()), stream=self.stream, backward=True)
            for frame in self.container.decode(self.stream):
                if frame.pts in todo:
                    found[frame.pts] = frame.to_ndarray(format="rgb24")
                    todo.discard(frame.pts)
                    if not todo:
                        break
        except av.error.FFmpegError as exc:
            raise AvforgeError(f"corrupt video stream ({exc})", path=self.path) from None
        if todo:
            raise AvforgeError(f"corrupt video stream (no frame decoded at pts {min(todo)})", path=self.path)
        return np.stack([found[int(p)] for p in wanted])

    def close(self) -> None:
        self.container.close()
