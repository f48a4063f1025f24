"""Any video file -> scored forgery segments: collect videos, ask ``features`` for their features,
predict, post-process. Used by ``avforge infer``.

The encoders are the ones the checkpoint was trained on, rebuilt from the specs it records
(``features.build_from_spec``: no training store needed, pretrained weights re-pointed and
checked by hash); a video is read and encoded by ``features.encode_video``, the same path as
``avforge extract`` (chunked, bounded memory, features spilled to a temporary memory map when
large), then goes through the engine's sliding-window ``predict_features`` and ``postprocess``.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from avforge.core.errors import AvforgeError
from avforge.core.types import Proposals
from avforge.engine.config import InferConfig
from avforge.engine.inference import Predictor, predict_features
from avforge.engine.rawcache import RawOutput
from avforge.features.base import Encoder
from avforge.features.encode import ChunkConfig, encode_video
from avforge.features.registry import build_from_spec
from avforge.io.mouth import MODES as CROPS
from avforge.postprocess import PostprocessConfig, postprocess

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
CROP_MODES = ("auto",) + CROPS
MODALITY_NAMES = ("visual", "audio")


@dataclass(frozen=True)
class VideoInput:
    file: str  # key in the outputs: path relative to the folder given, or the path as given
    path: Path


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

    def run(self, video: VideoInput) -> VideoResult:
        with tempfile.TemporaryDirectory(prefix="avforge-infer-") as spill_dir:
            encoded = encode_video(video.path, self.encoders, self.chunk, Path(spill_dir))
            info, feats = encoded.info, encoded.features
            raw = predict_features(self.pred, video.file, feats["visual"], feats["audio"], self.infer)
            del encoded, feats  # release memory maps before their folder goes
        return VideoResult(video.file, video.path, raw, postprocess(raw.proposals, self.post).sorted(),
                           info.has_audio, (info.width, info.height))
