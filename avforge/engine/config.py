"""ExperimentConfig: one YAML file = model + data + train + infer + postprocess sections.

Every key is a dataclass field with its default and a comment (``DetectorConfig`` in
``avforge/models/config.py``, ``PostprocessConfig`` in ``avforge/postprocess/config.py``,
``TrainConfig`` in ``avforge/engine/train_config.py``). Unknown keys and wrong types are
one-line errors. Shipped configs live in ``avforge/configs/*.yaml`` and can be named by stem
(``--config synthetic_small``). Relative paths in ``data`` are taken from the working folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from avforge.core.config import from_dict, load_config
from avforge.core.errors import AvforgeError
from avforge.engine.train_config import TrainConfig
from avforge.models.config import DetectorConfig
from avforge.postprocess.config import PostprocessConfig

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "configs"


@dataclass
class DataConfig:
    visual_store: str = ""  # FeatureStore folder of the visual encoder (avforge extract)
    audio_store: str = ""  # FeatureStore folder of the audio encoder
    train_manifest: str = ""  # JSON-lines manifest of the training split (avforge manifest)
    val_manifest: str = ""  # optional manifest whose mean losses are logged per epoch ("" = none)
    max_frames: int = 512  # training crop length, frames of the 25 fps grid (random crop per epoch)
    # chance per training clip of one pseudo-forgery: a word of the audio or the lips replaced by the
    # clip's own stream from elsewhere, so only lip-speech disagreement marks it (avforge/data/splice.py)
    splice_prob: float = 0.0
    # word timings of the training videos (avforge manifest --words; "" = none), where real datasets'
    # forgeries start and end: targets of model.word_edges, and with splice_at_words the places where
    # pseudo-forgeries are cut (avforge/data/splice.py; measured, not a default: README)
    train_words: str = ""
    splice_at_words: bool = False

    def __post_init__(self):
        if self.max_frames < 1:
            raise AvforgeError(f"data.max_frames must be >= 1, got {self.max_frames}")
        if not 0.0 <= self.splice_prob <= 1.0:  # also refuses NaN
            raise AvforgeError(f"data.splice_prob must be in [0, 1], got {self.splice_prob}")


@dataclass
class InferConfig:
    window_s: float = 30.72  # sliding-window length, 768 frames (memory is bounded by it)
    overlap_s: float = 7.68  # 192 frames; stitching is exact when >= 2 x the receptive field
    # (measured: ~90 frames each way for strides 1..8, ~190 for 1..16)
    batch_windows: int = 4  # windows per forward pass

    def __post_init__(self):
        if self.window_s <= 0 or self.overlap_s < 0 or self.overlap_s >= self.window_s:
            raise AvforgeError(f"infer needs window_s > overlap_s >= 0 (got {self.window_s}, {self.overlap_s})")
        if self.batch_windows < 1:
            raise AvforgeError(f"infer.batch_windows must be >= 1, got {self.batch_windows}")


@dataclass
class ExperimentConfig:
    model: DetectorConfig = field(default_factory=DetectorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    infer: InferConfig = field(default_factory=InferConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml"))


def resolve_config_path(name) -> Path:
    """A YAML path, or the stem of a shipped config."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = SHIPPED_DIR / f"{name}.yaml"
    if shipped.is_file():
        return shipped
    raise AvforgeError(f"config not found (shipped configs: {', '.join(shipped_configs())})", path=path)


def parse_overrides(items: list[str] | None) -> dict:
    """``["train.lr=1e-3", "model.pyramid_strides=[1,2]"]`` -> dotted key -> YAML-parsed value."""
    out = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise AvforgeError(f"--set expects KEY=VALUE (e.g. train.lr=1e-3), got {item!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            raise AvforgeError(f"--set {key}: value {text!r} is not valid YAML") from None
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
            except ValueError:
                pass
        out[key.strip()] = value
    return out


def load_experiment(name, overrides: list[str] | None = None) -> ExperimentConfig:
    return load_config(ExperimentConfig, resolve_config_path(name), parse_overrides(overrides))


def experiment_from_dict(data: dict, where: str = "config") -> ExperimentConfig:
    return from_dict(ExperimentConfig, data, where)
