"""Read a video as frames and audio on one clock: 25 fps RGB frames and 16 kHz mono audio.

Frame ``i`` of a clip covers ``[start_s + i / fps, start_s + (i + 1) / fps)`` and owns audio
samples ``[i * sample_rate / fps, (i + 1) * sample_rate / fps)`` of ``wave`` (640 at 25 fps /
16 kHz). The video stream is the clock: its decoded frame index (decord) gives the duration;
audio is padded with zeros or trimmed at the end to match it exactly.

Video frames come from decord (seek by index, so a window decodes only its own frames), or from
PyAV for the frame widths decord cannot convert (``avforge.io.video_pyav``); grid
frame ``i`` is the native frame whose timestamp is nearest to ``i / fps`` (ties: the earlier), so
30 fps drops every sixth frame and 10 fps repeats frames.
Audio comes from PyAV, decoded only for the requested span and resampled with soxr
(``avforge.io.audio_span`` says why not decord's AudioReader).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import decord
import numpy as np

from avforge.core.errors import AvforgeError
from avforge.core.timegrid import TimeGrid
from avforge.core.windows import plan_windows
from avforge.io.audio_span import read_audio_span
from avforge.io.video_pyav import PyAVFrames

MISSING_AUDIO = ("error", "silence")
_ROW_PADDING_FAILURE = "The size must exactly match"  # decord's RGB copy on some narrow widths
# decord runs single-threaded on batches of at most 256 frames: measured on a 1-hour 96x96 file
# read in 60-s windows, its default threading and whole-window batches let the RSS high-water
# mark climb to 0.6-1.0 GB; this way it stays near 0.3-0.4 GB.
DECODE_THREADS = 1
DECODE_CHUNK_FRAMES = 256

# First bytes of the containers we recognise: a file that starts like one of these but will
# not parse is "corrupt or truncated"; anything else is "not a video file".
_SIGNATURES = ((4, (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")),  # mp4 / mov
               (0, (b"\x1a\x45\xdf\xa3",)),  # matroska / webm
               (0, (b"RIFF", b"FLV", b"OggS", b"nut/multimedia", b"\x00\x00\x01\xba")))


@dataclass(frozen=True)
class MediaInfo:
    """What a file holds, from its container and decoded video index (no pixel decoding)."""

    path: Path
    duration_s: float  # end of the last video frame
    native_fps: float
    num_frames: int  # native video frames
    width: int
    height: int
    has_audio: bool
    sample_rate: int | None  # native audio rate, None without audio


@dataclass
class AVClip:
    """Frames and audio of ``[start_s, start_s + duration_s)`` on one clock."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    wave: np.ndarray  # (S,) float32 mono, S = T * sample_rate / fps
    fps: float = 25.0
    sample_rate: int = 16000
    start_s: float = 0.0
    duration_s: float = 0.0

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


class AVReader:
    """An open, validated file on one clock (decord for video, PyAV for audio): ``num_frames``
    grid frames; ``read(start_idx, end_idx)`` decodes only those frames and their audio span.
    A context manager."""

    def __init__(self, path, missing_audio: str = "error", fps: float = 25.0, sample_rate: int = 16000):
        if missing_audio not in MISSING_AUDIO:
            raise ValueError(f"missing_audio must be one of {MISSING_AUDIO}, got {missing_audio!r}")
        self.path = Path(path)
        self.container = _open_container(self.path)
        try:
            if not self.container.streams.video:
                raise AvforgeError("no video stream (audio-only file?)", path=self.path)
            self.video = _open_video(self.path, self.container)
            audio = self.container.streams.audio
            if not audio and missing_audio == "error":
                raise AvforgeError("no audio stream (read it as silence with missing_audio='silence', "
                                   "--missing-audio silence)", path=self.path)
            self.audio_stream = audio[0] if audio else None
            # (N, 2) start / end of every native frame, seconds, from the demuxed packets.
            self.frame_times_s = np.asarray(self.video.get_frame_timestamp(range(len(self.video))),
                                            dtype=np.float64).reshape(-1, 2)
        except BaseException:
            self.container.close()
            raise
        self.grid, self.sample_rate = TimeGrid(fps), sample_rate
        self.pyav_frames: PyAVFrames | None = None  # set once decord fails to convert a frame
        self.num_frames = self.grid.num_frames(self.duration_s)

    @property
    def duration_s(self) -> float:
        return float(self.frame_times_s[-1, 1])

    def info(self) -> MediaInfo:
        height, width = _frame_size(self.container)
        return MediaInfo(path=self.path, duration_s=self.duration_s,
                         native_fps=float(self.video.get_avg_fps()), num_frames=len(self.video),
                         width=width, height=height,
                         has_audio=self.audio_stream is not None,
                         sample_rate=int(self.audio_stream.rate) if self.audio_stream else None)

    def read(self, start_idx: int, end_idx: int) -> AVClip:
        """Grid frames ``[start_idx, end_idx)`` and their audio."""
        grid, sample_rate = self.grid, self.sample_rate
        times_s = np.atleast_1d(grid.time_of(np.arange(start_idx, end_idx)))
        frames = self._frames_at(times_s)
        audio_grid = TimeGrid(sample_rate)
        start_s, end_s = float(grid.time_of(start_idx)), float(grid.time_of(end_idx))
        n_samples = audio_grid.index_of(end_s) - audio_grid.index_of(start_s)
        if self.audio_stream is None:
            wave = np.zeros(n_samples, dtype=np.float32)
        else:
            wave = read_audio_span(self.container, self.audio_stream, audio_grid.index_of(start_s),
                                   n_samples, sample_rate, path=self.path)
        return AVClip(frames=frames, wave=wave, fps=grid.fps, sample_rate=sample_rate,
                      start_s=start_s, duration_s=end_s - start_s)

    def _frames_at(self, times_s: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) the native frame whose timestamp is nearest to each time (ties: earlier)."""
        starts = self.frame_times_s[:, 0]
        right = np.searchsorted(starts, times_s).clip(0, len(starts) - 1)
        left = (right - 1).clip(0)
        nearest = np.where(np.abs(times_s - starts[left]) <= np.abs(starts[right] - times_s), left, right)
        unique_idx, inverse = np.unique(nearest, return_inverse=True)
        decoded = None
        for first in range(0, len(unique_idx), DECODE_CHUNK_FRAMES):
            part = self._decode(unique_idx[first:first + DECODE_CHUNK_FRAMES].tolist())
            if decoded is None:
                if len(part) == len(unique_idx):  # one batch: no copy
                    decoded = part
                    break
                decoded = np.empty((len(unique_idx),) + part.shape[1:], dtype=np.uint8)
            decoded[first:first + len(part)] = part
        return decoded if len(unique_idx) == len(times_s) else decoded[inverse]

    def _decode(self, indices: list[int]) -> np.ndarray:
        """(len(indices), H, W, 3) native frames: decord, or PyAV from decord's first copy failure on."""
        if self.pyav_frames is None:
            try:
                return self.video.get_batch(indices).asnumpy()
            except decord.DECORDError as exc:
                if _ROW_PADDING_FAILURE not in str(exc):
                    raise AvforgeError(f"corrupt video stream ({_first_line(exc)})", path=self.path) from None
            self.pyav_frames = PyAVFrames(self.path, len(self.video))
        return self.pyav_frames.get_batch(indices)

    def close(self) -> None:
        self.container.close()
        if self.pyav_frames is not None:
            self.pyav_frames.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def probe(path) -> MediaInfo:
    """Container and video-index facts of ``path``; raises AvforgeError on unreadable media."""
    with AVReader(path, missing_audio="silence") as media:
        return media.info()


def read_av(path, start_s: float | None = None, end_s: float | None = None, *, fps: float = 25.0,
            sample_rate: int = 16000, missing_audio: str = "error") -> AVClip:
    """Frames at ``fps`` and mono ``sample_rate`` audio of ``[start_s, end_s)`` (default: all).

    ``start_s`` is floored to the frame grid; the clip ends at ``end_s`` (ceiled to the grid) or at
    the end of the video, whichever comes first. ``missing_audio="silence"`` reads a file
    without an audio stream as zeros instead of raising.
    """
    with AVReader(path, missing_audio, fps, sample_rate) as media:
        total, grid = media.num_frames, media.grid
        start_idx = min(grid.index_of(max(start_s, 0.0)), total) if start_s is not None else 0
        end_idx = total if end_s is None else min(grid.num_frames(end_s), total)
        if end_idx <= start_idx:
            raise AvforgeError(f"empty time range [{start_s}, {end_s}) s: the video lasts "
                               f"{media.duration_s:.3f} s", path=path)
        return media.read(start_idx, end_idx)


def iter_windows(path, window_s: float, overlap_s: float = 0.0, *, fps: float = 25.0,
                 sample_rate: int = 16000, missing_audio: str = "error") -> Iterator[AVClip]:
    """Consecutive clips of ``window_s`` starting every ``window_s - overlap_s`` seconds
    (``core.windows.plan_windows``); the last one may be shorter. Memory is bounded by one window."""
    grid = TimeGrid(fps)
    window_frames, overlap_frames = grid.num_frames(window_s), grid.num_frames(overlap_s)
    if window_frames <= overlap_frames:
        raise ValueError(f"window_s ({window_s}) must exceed overlap_s ({overlap_s}) by one frame or more")
    with AVReader(path, missing_audio, fps, sample_rate) as reader:
        for w in plan_windows(reader.num_frames, window_frames, overlap_frames):
            yield reader.read(w.start_idx, w.end_idx)


def _open_container(path: Path):
    if not path.exists():
        raise AvforgeError("file not found", path=path)
    if not path.is_file():
        raise AvforgeError("not a file", path=path)
    if path.stat().st_size == 0:
        raise AvforgeError("empty file (0 bytes)", path=path)
    try:
        return av.open(str(path))
    except av.error.InvalidDataError:
        if _looks_like_media(path):
            raise AvforgeError("corrupt or truncated media file (container cannot be parsed)",
                               path=path) from None
        raise AvforgeError("not a video file (unrecognised format)", path=path) from None
    except (av.error.FFmpegError, OSError) as exc:
        raise AvforgeError(f"cannot open media ({_first_line(exc)})", path=path) from None


def _open_video(path: Path, container) -> decord.VideoReader:
    try:
        video = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=DECODE_THREADS)
    except (decord.DECORDError, RuntimeError) as exc:
        if not _has_video_packet(container):
            raise AvforgeError("video stream has zero frames", path=path) from None
        raise AvforgeError(f"corrupt video stream ({_first_line(exc)})", path=path) from None
    if len(video) == 0:
        raise AvforgeError("video stream has zero frames", path=path)
    return video


def _has_video_packet(container) -> bool:
    """Whether the (still unread) first video stream holds any packet; explains a failure."""
    try:
        return any(packet.size for packet in container.demux(video=0))
    except av.error.FFmpegError:
        return True


def _frame_size(container) -> tuple[int, int]:
    ctx = container.streams.video[0].codec_context
    return int(ctx.height), int(ctx.width)


def _looks_like_media(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(16)
    return any(head[offset:offset + len(sig)] == sig for offset, sigs in _SIGNATURES for sig in sigs)


def _first_line(exc: BaseException) -> str:
    """The first line of a library error without decord's ``[time] file.cc:line:`` prefix."""
    lines = str(exc).strip().splitlines()
    return re.sub(r"^\[[^\]]*\]\s*\S+:\d+:\s*", "", lines[0])[:200] if lines else type(exc).__name__
