"""What every encoder provides: its spec (see spec.py) and encode(clip)."""
from __future__ import annotations

import numpy as np
import torch

from avforge.core.timegrid import VIDEO_GRID
from avforge.features.spec import EncoderSpec, WeightsRef


class Encoder:
    """Base class. Subclasses set ``name``, ``modality``, ``dim``, ``options`` (their constructor
    options, JSON values) and, with weights, ``weights`` and ``seed``; ``weights_option`` names
    the constructor option that takes a weights source (hub name or path).

    ``encode(clip)`` returns (T, dim) float32 with T = the clip's video frames at 25 fps.
    ``encode_batch(clips)`` defaults to a loop; neural encoders override it to pad and batch.
    """

    name: str = ""
    modality: str = ""  # "audio" | "visual"
    dim: int = 0
    weights_option: str | None = None
    weights = WeightsRef()
    seed: int = 0
    grid = VIDEO_GRID

    def __init__(self, options: dict, device: str = "cpu"):
        self.options = dict(options)
        self.device = torch.device(device)

    @property
    def spec(self) -> EncoderSpec:
        """What this encoder is, as recorded in feature stores and checkpoints."""
        spec = EncoderSpec(self.name, self.modality, self.dim, self.options, self.weights, self.seed, self.grid.fps)
        return EncoderSpec.from_dict(spec.to_dict())  # options as read back from JSON

    def encode(self, clip) -> np.ndarray:
        raise NotImplementedError

    def encode_batch(self, clips) -> list[np.ndarray]:
        return [self.encode(clip) for clip in clips]


def build_seeded(factory, seed: int):
    """Call ``factory()`` under a fixed torch seed without touching the global RNG stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()
