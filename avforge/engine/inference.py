"""Inference: a checkpoint over cached features in sliding windows -> RawOutput per video.

``load_predictor`` + ``predict_features`` also serve single-video inference (features computed
on the fly); ``predict_manifest`` caches a whole split for ``avforge postprocess``. Several
checkpoints load as one ensemble (``avforge.models.ensemble``: outputs averaged before decoding).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from avforge.core.batch import Batch
from avforge.core.config import from_dict
from avforge.core.errors import AvforgeError
from avforge.core.fileio import read_json
from avforge.core.timegrid import VIDEO_GRID
from avforge.engine import checkpoint as ckpt
from avforge.engine.config import ExperimentConfig, InferConfig
from avforge.engine.distributed import resolve_device
from avforge.engine.experiment import feature_dataset
from avforge.engine.rawcache import RawOutput, load_raw, raw_path, save_raw, write_index
from avforge.features.spec import EncoderSpec, spec_from_record
from avforge.features.store import FeatureStore
from avforge.models.detector import Detector, build_detector
from avforge.models.ensemble import DetectorEnsemble
from avforge.core.windows import plan_windows, stitch_frames
from avforge.postprocess.windows import merge_proposals


@dataclass
class Predictor:
    """A trained Detector (or an ensemble of several) in eval mode plus what it was trained with; with
    several checkpoints, config, checkpoint and step are the first one's."""

    model: Detector | DetectorEnsemble
    config: ExperimentConfig
    checkpoint: Path
    step: int
    features: dict  # {"visual": record, "audio": record}: the training stores' encoder specs
    device: torch.device
    members: tuple[Path, ...] = ()  # every checkpoint of an ensemble, the first one included

    def info(self) -> dict:
        info = {"checkpoint": str(self.checkpoint), "step": self.step, "features": self.features}
        if len(self.members) > 1:
            info["members"] = [str(m) for m in self.members]
        return info

    def spec(self, modality: str) -> EncoderSpec:
        """The spec of the encoder whose features this checkpoint was trained on."""
        try:
            return spec_from_record(dict(self.features.get(modality) or {}), where=f"this checkpoint's {modality}")
        except AvforgeError as exc:
            raise AvforgeError(str(exc), path=self.checkpoint) from None


def load_predictor(checkpoint, device: str = "cpu") -> Predictor:
    """Load a checkpoint folder (or an experiment folder: its newest checkpoint; a recipe's experiment folder: all
    its members); a list of several loads them as one ensemble, which must have been trained on the same features."""
    paths = [checkpoint] if isinstance(checkpoint, (str, Path)) or not isinstance(checkpoint, Sequence) \
        else list(checkpoint)
    loaded = [_load_one(folder, device) for path in paths for folder in ckpt.member_folders(path)]
    if not loaded:
        raise AvforgeError("no checkpoint given")
    first = loaded[0]
    if len(loaded) == 1:
        return first
    for other in loaded[1:]:
        for name in ("visual", "audio"):
            theirs, ours = other.features.get(name), first.features.get(name)
            diff = spec_from_record(dict(theirs)).differences(spec_from_record(dict(ours))) if theirs and ours else []
            if diff:
                raise AvforgeError(f"was trained on other {name} features than {first.checkpoint} ({diff[0]}); "
                                   "an ensemble's members must read the same features", path=other.checkpoint)
    try:
        model = DetectorEnsemble([p.model for p in loaded]).eval()
    except AvforgeError as exc:
        raise AvforgeError(f"{exc} (members: {', '.join(str(p.checkpoint) for p in loaded)})") from None
    return replace(first, model=model, members=tuple(p.checkpoint for p in loaded))


def _load_one(checkpoint, device: str) -> Predictor:
    """One checkpoint (or experiment) folder as a Predictor."""
    ckpt_dir = ckpt.resolve_checkpoint(checkpoint)
    state = ckpt.read_state(ckpt_dir)
    try:
        cfg = from_dict(ExperimentConfig, state["config"])
        dims = state["model_args"]
        model = build_detector(cfg.model, int(dims["visual_dim"]), int(dims["audio_dim"]))
    except (KeyError, TypeError) as exc:
        raise AvforgeError(f"checkpoint state lacks {exc} (not a detector checkpoint?)", path=ckpt_dir) from None
    except AvforgeError as exc:
        raise AvforgeError(f"checkpoint config is invalid: {exc}", path=ckpt_dir) from None
    ckpt.load_model_weights(model, ckpt_dir)
    dev = resolve_device(device)
    return Predictor(model.to(dev).eval(), cfg, ckpt_dir, int(state.get("step", 0)),
                     state.get("features", {}), dev, (ckpt_dir,))


def check_stores(pred: Predictor, visual: FeatureStore, audio: FeatureStore) -> None:
    """The stores must hold features like the ones the checkpoint was trained on."""
    for name, store, dim in (("visual", visual, pred.model.visual_dim), ("audio", audio, pred.model.audio_dim)):
        if store.dim != dim:
            raise AvforgeError(f"checkpoint {pred.checkpoint} expects {name} features with {dim} channels, "
                               f"this store has {store.dim} (trained with another feature config?)", path=store.root)
        diff = store.spec.differences(pred.spec(name)) if pred.features.get(name) else []
        if diff:
            raise AvforgeError(f"{name} features differ from the ones checkpoint {pred.checkpoint} was trained on "
                               f"({diff[0]}, here vs in training)", path=store.root)


@torch.no_grad()
def predict_features(pred: Predictor, file: str, visual: np.ndarray, audio: np.ndarray,
                     infer: InferConfig | None = None) -> RawOutput:
    """Run the model over (T, Cv) / (T, Ca) features of one video in sliding windows.

    Window starts are multiples of the coarsest pyramid stride; frame probabilities are
    stitched (``core.windows``: equal to whole-clip inference when the overlap is at
    least twice the receptive field), candidates come from the window owning their midpoint,
    and the video score is the maximum over windows (a forgery anywhere makes the video fake).
    Always fp32. Memory is bounded by ``batch_windows`` x ``window_s``.
    """
    infer = infer or pred.config.infer
    n = min(len(visual), len(audio))
    windows = plan_windows(n, VIDEO_GRID.num_frames(infer.window_s), VIDEO_GRID.num_frames(infer.overlap_s),
                           align_frames=max(pred.config.model.pyramid_strides))
    if not windows:
        raise AvforgeError(f"no feature frames for {file!r}")
    width = max(w.num_frames for w in windows)
    probs: dict[str, list[np.ndarray]] = {}
    proposals, video_scores = [], []
    for i in range(0, len(windows), infer.batch_windows):
        group = windows[i:i + infer.batch_windows]
        b = len(group)
        v = torch.zeros(b, width, visual.shape[1])
        a = torch.zeros(b, width, audio.shape[1])
        mask = torch.zeros(b, width, dtype=torch.bool)
        for j, w in enumerate(group):
            v[j, :w.num_frames] = torch.from_numpy(np.asarray(visual[w.start_idx:w.end_idx], dtype=np.float32))
            a[j, :w.num_frames] = torch.from_numpy(np.asarray(audio[w.start_idx:w.end_idx], dtype=np.float32))
            mask[j, :w.num_frames] = True
        batch = Batch(files=[file] * b, visual=v, audio=a, mask=mask,
                      offset_s=torch.tensor([float(VIDEO_GRID.time_of(w.start_idx)) for w in group], dtype=torch.float64),
                      duration_s=torch.tensor([float(VIDEO_GRID.time_of(w.num_frames)) for w in group],
                                              dtype=torch.float64)).to(pred.device)
        out = pred.model(batch)
        for key, value in out.frame_probs().items():
            probs.setdefault(key, []).extend(value[j, :w.num_frames].float().cpu().numpy() for j, w in enumerate(group))
        proposals.extend(pred.model.decode(out, batch))
        video_scores.extend(out.video_scores().float().cpu().tolist())
    return RawOutput(file=file, frame_probs={k: stitch_frames(windows, c, n) for k, c in probs.items()},
                     proposals=merge_proposals(windows, proposals), video_score=float(max(video_scores)),
                     duration_s=float(VIDEO_GRID.time_of(n)), fps=VIDEO_GRID.fps)


def predict_manifest(pred: Predictor, manifest, visual: FeatureStore, audio: FeatureStore, raw_dir,
                     infer: InferConfig | None = None) -> list[str]:
    """Cache raw outputs of every video of ``manifest`` in ``raw_dir``; resumable.

    A re-run with the same checkpoint skips videos already done; a folder made by another
    checkpoint is refused. ``index.json`` says ``complete`` only when every video is done.
    """
    check_stores(pred, visual, audio)
    dataset = feature_dataset(manifest, visual, audio, max_frames=None)
    files = [r.file for r in dataset.records]
    infer = infer or pred.config.infer
    info = {**pred.info(), "infer": asdict(infer), "postprocess": asdict(pred.config.postprocess),
            "manifest": str(manifest)}
    raw_dir = Path(raw_dir)
    index_path = raw_dir / "index.json"
    if index_path.is_file():
        old = read_json(index_path)
        if not isinstance(old, dict) or (old.get("checkpoint"), old.get("step"), old.get("infer"), old.get("members")) != (
                info["checkpoint"], info["step"], info["infer"], info.get("members")):
            raise AvforgeError("this folder holds raw outputs of another checkpoint or window setting; "
                               "use a new --out folder", path=raw_dir)
    write_index(raw_dir, info, files, complete=False)
    for i in tqdm(range(len(dataset)), desc="predict", unit="video", disable=None, mininterval=1.0):
        file = files[i]
        if raw_path(raw_dir, file).is_file():
            try:
                load_raw(raw_dir, file)
                continue
            except AvforgeError:
                pass  # damaged: redo
        item = dataset[i]
        save_raw(raw_dir, predict_features(pred, file, item.visual, item.audio, infer))
    write_index(raw_dir, info, files, complete=True)
    return files
