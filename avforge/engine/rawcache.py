"""Raw (pre-NMS) outputs cached per video, so post-processing can be re-run alone.

Layout of a raw folder::

    index.json                       format, checkpoint, config, features, files, complete
    videos/<file key>.safetensors    one per video (the key's folders mirrored)

Tensors of a video file: ``frame_probs.fused|audio|visual`` (T,) float32 on the 25 fps grid
(and ``frame_probs.sync``, the lip-speech agreement, from a model with a sync branch),
``proposals.scores|starts_s|ends_s`` (N,) float64 in absolute seconds, sorted by score,
``proposals.modality`` (N,) int64 ids into ``core.batch.MODALITIES``, ``video_score`` (1,)
float64. Metadata: ``file``, ``fps``, ``duration_s``. No pickle anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from avforge.core.types import MODALITIES
from avforge.core.errors import AvforgeError
from avforge.core.fileio import atomic_path, read_json, write_json
from avforge.core.types import Proposals
from avforge.features.store import key_to_relpath

FORMAT = "avforge-raw/1"
INDEX = "index.json"
FRAME_KEYS = ("fused", "audio", "visual")
OPTIONAL_FRAME_KEYS = ("sync",)


@dataclass
class RawOutput:
    """Everything the network said about one video, before suppression."""

    file: str
    frame_probs: dict[str, np.ndarray]  # FRAME_KEYS (+ OPTIONAL_FRAME_KEYS) -> (T,) float32, 25 fps grid
    proposals: Proposals  # pre-NMS candidates, absolute seconds, with modality
    video_score: float  # probability that the video contains a forgery
    duration_s: float
    fps: float = 25.0


def raw_path(raw_dir, file: str) -> Path:
    return Path(raw_dir) / "videos" / key_to_relpath(file).with_suffix(".safetensors")


def save_raw(raw_dir, raw: RawOutput) -> Path:
    p = raw.proposals
    modality = [MODALITIES.index(m) for m in (p.modality or ("both",) * len(p))]
    tensors = {f"frame_probs.{k}": torch.from_numpy(np.ascontiguousarray(raw.frame_probs[k], dtype=np.float32))
               for k in FRAME_KEYS + OPTIONAL_FRAME_KEYS if k in raw.frame_probs}
    tensors.update({
        "proposals.scores": torch.from_numpy(np.asarray(p.scores, dtype=np.float64).copy()),
        "proposals.starts_s": torch.from_numpy(np.asarray(p.starts_s, dtype=np.float64).copy()),
        "proposals.ends_s": torch.from_numpy(np.asarray(p.ends_s, dtype=np.float64).copy()),
        "proposals.modality": torch.tensor(modality, dtype=torch.int64),
        "video_score": torch.tensor([raw.video_score], dtype=torch.float64)})
    path = raw_path(raw_dir, raw.file)
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata={"file": raw.file, "fps": repr(raw.fps), "duration_s": repr(raw.duration_s)})
    return path


def load_raw(raw_dir, file: str) -> RawOutput:
    path = raw_path(raw_dir, file)
    if not path.is_file():
        raise AvforgeError(f"no raw outputs for {file!r}", path=path)
    try:
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
        t = load_file(path)
    except (SafetensorError, OSError) as exc:
        raise AvforgeError(f"unreadable raw output ({' '.join(str(exc).split())})", path=path) from None
    if meta.get("file") != file:
        raise AvforgeError(f"raw output belongs to {meta.get('file')!r}, expected {file!r}", path=path)
    proposals = Proposals(t["proposals.scores"].numpy(), t["proposals.starts_s"].numpy(), t["proposals.ends_s"].numpy(),
                          tuple(MODALITIES[i] for i in t["proposals.modality"].tolist()))
    curves = {k: t[f"frame_probs.{k}"].numpy() for k in FRAME_KEYS + OPTIONAL_FRAME_KEYS if f"frame_probs.{k}" in t}
    return RawOutput(file, curves, proposals,
                     float(t["video_score"][0]), float(meta["duration_s"]), float(meta["fps"]))


def write_index(raw_dir, info: dict, files: list[str], complete: bool) -> None:
    write_json(Path(raw_dir) / INDEX, {"format": FORMAT, **info, "complete": complete, "files": files}, indent=1)


def read_index(raw_dir) -> dict:
    """The index of a finished ``avforge predict`` run."""
    path = Path(raw_dir) / INDEX
    if not path.is_file():
        raise AvforgeError("not a raw-output folder (no index.json; run avforge predict)", path=raw_dir)
    index = read_json(path)
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise AvforgeError(f"not a raw-output index (expected format {FORMAT!r})", path=path)
    if not index.get("complete"):
        raise AvforgeError("avforge predict did not finish here; re-run it to complete the folder", path=raw_dir)
    return index
