"""One way from a video file to features on the 25 fps grid, for ``avforge extract`` and ``infer``.

A video is cut into chunks of ``chunk_s`` seconds overlapping by ``overlap_s``
(``core.windows.plan_windows``); each chunk is decoded on its own (``io.media.AVReader``: frames,
mouth crops inside the encoders, audio span), encoded, and the chunks' features are stitched:
every frame comes from the chunk in which it lies farthest from a cut. A video no longer than
one chunk is one piece (every clip of LAV-DF and AV-Deepfake1M). Encoders that normalise over a
clip (lip-light, logmel) normalise per chunk, which is why chunks are long (60 s; fewer seconds
for large frames, ``max_chunk_mb``) and overlap (4 s).

``encode_video`` streams (memory bounded by one chunk; features larger than
FEATURES_IN_RAM_BYTES spill to a memory-mapped file); ``decode_video`` + ``encode_decoded``
do the same in two steps so that ``extract`` can decode ahead in threads and batch the chunks
of several videos into one forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.core.timegrid import VIDEO_GRID
from avforge.core.windows import Window, plan_windows, stitch_frames
from avforge.features.base import Encoder
from avforge.io.media import AVClip, AVReader, MediaInfo

# An hour at 25 fps with two 768-dim encoders is ~550 MB: past this, features go to a memory map.
FEATURES_IN_RAM_BYTES = 256 << 20


@dataclass(frozen=True)
class ChunkConfig:
    """How a video is read and cut into chunks for the encoders."""

    chunk_s: float = 60.0  # seconds decoded and encoded at once (bounds memory)
    overlap_s: float = 4.0  # context shared by neighbouring chunks
    missing_audio: str = "error"  # "error" | "silence" (a video without audio reads as silence)
    max_chunk_mb: float = 1024.0  # decoded frames of one chunk stay below this: 60 s of 224x224
    # frames take 225 MB, of 1080p 9.3 GB, so large frames get shorter chunks (at least 1 s)

    def __post_init__(self):
        if self.chunk_s <= 0 or self.overlap_s < 0 or VIDEO_GRID.num_frames(self.chunk_s) <= \
                VIDEO_GRID.num_frames(self.overlap_s):
            raise AvforgeError(f"need chunk_s > overlap_s >= 0 (got {self.chunk_s}, {self.overlap_s})")
        if self.max_chunk_mb <= 0:
            raise AvforgeError(f"max_chunk_mb must be > 0, got {self.max_chunk_mb}")

    def for_frame_size(self, width: int, height: int) -> "ChunkConfig":
        """This config with ``chunk_s`` shortened to fit ``max_chunk_mb`` of RGB frames of this
        size, and the overlap to at most a quarter of the chunk."""
        fitting = int(self.max_chunk_mb * 2**20 // max(1, width * height * 3))
        chunk_s = min(self.chunk_s, float(VIDEO_GRID.to_seconds(max(fitting, int(VIDEO_GRID.fps)))))
        overlap_s = self.overlap_s if chunk_s == self.chunk_s else min(self.overlap_s, chunk_s / 4)
        return replace(self, chunk_s=chunk_s, overlap_s=overlap_s)

    def plan(self, info: MediaInfo, n_frames: int) -> list[Window]:
        """The chunks of a video of ``n_frames`` grid frames with frames of ``info``'s size."""
        cfg = self.for_frame_size(info.width, info.height)
        return plan_windows(n_frames, VIDEO_GRID.num_frames(cfg.chunk_s), VIDEO_GRID.num_frames(cfg.overlap_s))


@dataclass
class DecodedVideo:
    info: MediaInfo
    num_frames: int  # on the 25 fps grid
    windows: list[Window]  # the chunks
    clips: list[AVClip]  # one per chunk


@dataclass
class EncodedVideo:
    info: MediaInfo
    features: dict[str, np.ndarray]  # (T, dim) per encoder key, T = grid frames of the video


def encode_clips(encoder: Encoder, clips: list[AVClip]) -> list[np.ndarray]:
    """(T_i, dim) float32 per clip in one batch; an encoder that returns the wrong length is an error."""
    feats = encoder.encode_batch(clips)
    for clip, data in zip(clips, feats):
        if len(data) != clip.num_frames:
            raise AvforgeError(f"{encoder.name} gave {len(data)} frames for a chunk of {clip.num_frames}")
    return feats


def decode_video(path, chunk: ChunkConfig = ChunkConfig()) -> DecodedVideo:
    """Every chunk of a video, decoded (for ``extract``, which batches chunks across videos)."""
    with AVReader(path, chunk.missing_audio) as reader:
        info = reader.info()
        windows = chunk.plan(info, reader.num_frames)
        return DecodedVideo(info, reader.num_frames, windows,
                            [reader.read(w.start_idx, w.end_idx) for w in windows])


def encode_decoded(encoder: Encoder, video: DecodedVideo, parts: list[np.ndarray] | None = None) -> np.ndarray:
    """(T, dim) features of a decoded video, from its chunks' features ``parts`` (encoded here if None)."""
    parts = encode_clips(encoder, video.clips) if parts is None else parts
    return stitch_frames(video.windows, parts, video.num_frames)


def encode_video(path, encoders: dict[str, Encoder], chunk: ChunkConfig = ChunkConfig(),
                 spill_dir: Path | None = None) -> EncodedVideo:
    """Features of every encoder for one video, streamed chunk by chunk (memory: one chunk).

    With ``spill_dir``, features larger than FEATURES_IN_RAM_BYTES are memory-mapped files there."""
    with AVReader(path, chunk.missing_audio) as reader:
        n, info = reader.num_frames, reader.info()
        spill = spill_dir is not None and n * sum(e.dim for e in encoders.values()) * 4 > FEATURES_IN_RAM_BYTES
        out = {key: (np.lib.format.open_memmap(Path(spill_dir) / f"{key}.npy", "w+", np.float32, (n, e.dim))
                     if spill else np.zeros((n, e.dim), np.float32)) for key, e in encoders.items()}
        for w in chunk.plan(info, n):
            clip = reader.read(w.start_idx, w.end_idx)
            for key, encoder in encoders.items():
                w.place(out[key], encode_clips(encoder, [clip])[0])
        return EncodedVideo(info, out)
