"""Any video file -> scored forgery segments: read -> encode -> detect -> post-process.

Used by ``avforge infer``. A video is streamed in chunks of ``chunk_s`` seconds (``iter_windows``:
memory for frames and audio is bounded by one chunk); both encoders the checkpoint was trained
on are rebuilt from the identity recorded for its training feature stores and run on every
chunk; their features are stitched on the 25 fps grid (``postprocess.windows``: each frame
comes from the chunk in which it lies farthest from a cut) and go through the engine's
sliding-window ``predict_features``, then ``postprocess``.

A video no longer than one chunk is encoded in a single piece, exactly as ``avforge extract``
encodes it, so its features equal the training stores' features. Longer videos are encoded
per chunk; encoders that normalise over a whole clip (lip-light, logmel) then normalise per
chunk, which is why chunks are long (60 s, fewer seconds for large frames: ``max_chunk_mb``)
and overlap (4 s). Features themselves stay in RAM up to FEATURES_IN_RAM_BYTES, then spill to
a temporary memory-mapped file.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.core.timegrid import VIDEO_GRID
from avforge.core.types import Proposals, VideoRecord
from avforge.data import METADATA_NAMES, load_avdeepfake1m, load_lavdf, read_manifest
from avforge.data.manifest import manifest_entries
from avforge.engine.config import InferConfig
from avforge.engine.inference import Predictor, predict_features
from avforge.engine.rawcache import RawOutput
from avforge.features.base import Encoder
from avforge.features.registry import build_from_spec
from avforge.io.media import iter_windows, probe
from avforge.postprocess import PostprocessConfig, postprocess
from avforge.postprocess.windows import plan_windows

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
CROP_MODES = ("auto", "fixed", "detect")
MODALITY_NAMES = ("visual", "audio")
# Features of a video larger than this are kept in a temporary memory-mapped file, not in RAM
# (an hour at 25 fps with two 768-dim encoders is ~550 MB).
FEATURES_IN_RAM_BYTES = 256 << 20


@dataclass(frozen=True)
class VideoInput:
    file: str  # key in the outputs: path relative to the folder given, or the path as given
    path: Path


@dataclass(frozen=True)
class ChunkConfig:
    """How a video is streamed through the encoders."""

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


@dataclass
class VideoResult:
    """Everything ``avforge infer`` reports about one video."""

    file: str
    path: Path
    raw: RawOutput  # per-frame probabilities, pre-NMS candidates, video score
    proposals: Proposals  # after post-processing, highest score first, with modality
    has_audio: bool
    size: tuple[int, int]  # (width, height) of the video


# ----------------------------------------------------------------------------- inputs
def collect_videos(paths) -> list[VideoInput]:
    """Files as given, folders searched recursively for VIDEO_SUFFIXES (hidden entries skipped).

    Keys: a file's path as given; a folder's videos relative to that folder (dataset style,
    e.g. ``test/000001.mp4``). A path that does not exist, a folder without videos and two
    videos with the same key are one-line errors.
    """
    found: dict[str, Path] = {}
    seen: set[Path] = set()
    for arg in paths:
        root = Path(arg)
        if root.is_dir():
            videos = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(root).parts))
            if not videos:
                raise AvforgeError(f"no video files ({' '.join(VIDEO_SUFFIXES)}) in this folder", path=root)
            pairs = [(p.relative_to(root).as_posix(), p) for p in videos]
        elif root.exists():
            pairs = [(root.as_posix(), root)]
        else:
            raise AvforgeError("no such file or folder", path=root)
        for key, path in pairs:
            real = path.resolve()
            if real in seen:
                continue
            if key in found:
                raise AvforgeError(f"two videos have the key {key!r} ({found[key]} and {path}); "
                                   "pass their folders separately in two runs", path=path)
            seen.add(real)
            found[key] = path
    return [VideoInput(k, p) for k, p in found.items()]


# ----------------------------------------------------------------------------- encoders
def build_training_encoder(pred: Predictor, modality: str, crop: str = "auto", weights: str | None = None,
                           device: str = "cpu") -> Encoder:
    """The encoder of ``modality`` the checkpoint was trained on, rebuilt from its recorded spec.

    ``weights`` re-points pretrained weights (checked by hash); ``crop`` other than "auto" replaces
    a visual encoder's mouth-crop mode (features then differ from training on purpose)."""
    try:
        encoder = build_from_spec(pred.spec(modality), weights=weights, device=device,
                                  crop=None if crop == "auto" or modality != "visual" else crop)
    except AvforgeError as exc:
        raise AvforgeError(f"{exc} (checkpoint {pred.checkpoint})") from None
    expected = pred.model.visual_dim if modality == "visual" else pred.model.audio_dim
    if encoder.dim != expected:
        raise AvforgeError(f"the {modality} encoder gives {encoder.dim} channels, the model expects {expected} "
                           "(checkpoint for another feature config)", path=pred.checkpoint)
    return encoder


# ----------------------------------------------------------------------------- one video
class VideoInferencer:
    """A loaded checkpoint with its encoders; ``run(video)`` gives a VideoResult."""

    def __init__(self, pred: Predictor, *, crop: str = "auto", chunk: ChunkConfig = ChunkConfig(),
                 infer: InferConfig | None = None, post: PostprocessConfig | None = None, device: str = "cpu",
                 weights: dict | None = None):
        if crop not in CROP_MODES:
            raise AvforgeError(f"crop must be one of {CROP_MODES}, got {crop!r}")
        self.pred, self.chunk = pred, chunk
        self.infer = infer or pred.config.infer
        self.post = post or pred.config.postprocess
        weights = weights or {}  # {"visual": lip weights, "audio": speech model} re-pointed by the user
        self.encoders = {m: build_training_encoder(pred, m, crop, weights.get(m), device) for m in MODALITY_NAMES}

    @property
    def crop(self) -> str | None:
        """The mouth-crop mode in use ("fixed" | "detect"), None for a visual encoder without one."""
        return self.encoders["visual"].options.get("crop")

    def encode(self, path, n_frames: int, spill_dir: Path, chunk: ChunkConfig | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(T, Cv) visual and (T, Ca) audio features of a whole video, streamed chunk by chunk.

        Features larger than FEATURES_IN_RAM_BYTES go to memory-mapped files in ``spill_dir``."""
        chunk = chunk or self.chunk
        windows = plan_windows(n_frames, VIDEO_GRID.num_frames(chunk.chunk_s), VIDEO_GRID.num_frames(chunk.overlap_s))
        dims = {m: e.dim for m, e in self.encoders.items()}
        spill = n_frames * sum(dims.values()) * 4 > FEATURES_IN_RAM_BYTES
        feats = {m: (np.lib.format.open_memmap(spill_dir / f"{m}.npy", "w+", np.float32, (n_frames, d))
                     if spill else np.empty((n_frames, d), np.float32)) for m, d in dims.items()}
        clips = iter_windows(path, chunk.chunk_s, chunk.overlap_s, missing_audio=chunk.missing_audio)
        count = 0
        for w, clip in zip(windows, clips):
            count += 1
            if VIDEO_GRID.index_of(clip.start_s) != w.start_idx or clip.num_frames != w.num_frames:
                raise AvforgeError(f"decoded chunk at {clip.start_s:.2f} s has {clip.num_frames} frames, "
                                   f"expected {w.num_frames} at {w.start_idx / VIDEO_GRID.fps:.2f} s", path=path)
            lo, hi = w.keep_start_idx - w.start_idx, w.keep_end_idx - w.start_idx
            for m, encoder in self.encoders.items():
                data = encoder.encode(clip)
                if len(data) != clip.num_frames:
                    raise AvforgeError(f"{encoder.name} gave {len(data)} frames for a chunk of {clip.num_frames}",
                                       path=path)
                feats[m][w.keep_start_idx:w.keep_end_idx] = data[lo:hi]
        if count != len(windows):
            raise AvforgeError(f"decoded {count} chunks, expected {len(windows)} (truncated file?)", path=path)
        return feats["visual"], feats["audio"]

    def run(self, video: VideoInput) -> VideoResult:
        info = probe(video.path)
        if not info.has_audio and self.chunk.missing_audio == "error":
            raise AvforgeError("no audio stream (use --missing-audio silence to read it as silence)", path=video.path)
        n_frames = VIDEO_GRID.num_frames(info.duration_s)
        with tempfile.TemporaryDirectory(prefix="avforge-infer-") as spill_dir:
            visual, audio = self.encode(video.path, n_frames, Path(spill_dir),
                                        self.chunk.for_frame_size(info.width, info.height))
            raw = predict_features(self.pred, video.file, visual, audio, self.infer)
            del visual, audio  # release memory maps before their folder goes
        return VideoResult(video.file, video.path, raw, postprocess(raw.proposals, self.post).sorted(),
                           info.has_audio, (info.width, info.height))


# ----------------------------------------------------------------------------- ground truth
class Labels:
    """Ground truth by video: from a manifest (``.jsonl``), a LAV-DF ``metadata[.min].json`` or an
    AV-Deepfake1M ``{split}_metadata.json`` lying in its dataset root."""

    def __init__(self, path):
        path = Path(path)
        if not path.is_file():
            raise AvforgeError("labels file not found", path=path)
        if path.suffix == ".jsonl":
            pairs = [(e.path, e.record) for e in read_manifest(path)]
        else:
            if path.name in METADATA_NAMES:
                records = load_lavdf(path.parent)
            elif path.name.endswith("_metadata.json"):
                records = load_avdeepfake1m(path.parent, path.name[: -len("_metadata.json")])
            else:
                raise AvforgeError("labels must be a manifest (.jsonl), LAV-DF metadata.json or AV-Deepfake1M "
                                   "{split}_metadata.json", path=path)
            pairs = [(e.path, e.record) for e in manifest_entries(records, path.parent)]
        self.by_path = {str(Path(p).resolve()): r for p, r in pairs}
        self.by_key = {Path(r.file).as_posix(): r for _, r in pairs}

    def find(self, video) -> VideoRecord | None:
        """The record of ``video``: the same file on disk, else the record whose key is the
        longest tail of the video's path (``test/000001.mp4`` matches ``/x/test/000001.mp4``)."""
        real = Path(video).resolve()
        if str(real) in self.by_path:
            return self.by_path[str(real)]
        for i in range(len(real.parts) - 1):
            record = self.by_key.get(Path(*real.parts[i + 1:]).as_posix())
            if record is not None:
                return record
        return None
