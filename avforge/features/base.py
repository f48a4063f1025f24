"""What every encoder provides: identity (name, weights id, config hash) and encode(clip)."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import torch

from avforge.core.timegrid import VIDEO_GRID

FEATURE_VERSION = 1  # bump when an encoder's maths changes: stores made before are then refused


class Encoder:
    """Base class. Subclasses set ``name``, ``modality``, ``dim``, ``weights_id``, ``options``.

    ``encode(clip)`` returns (T, dim) float32 with T = the clip's video frames at 25 fps.
    ``encode_batch(clips)`` defaults to a loop; neural encoders override it to pad and batch.
    """

    name: str = ""
    modality: str = ""  # "audio" | "visual"
    dim: int = 0
    weights_id: str = "none"
    grid = VIDEO_GRID

    def __init__(self, options: dict, device: str = "cpu"):
        self.options = dict(options)
        self.device = torch.device(device)

    @property
    def config_hash(self) -> str:
        """16 hex digits over everything that changes the output: name, options, weights, version."""
        blob = json.dumps({"name": self.name, "options": self.options, "weights_id": self.weights_id,
                           "dim": self.dim, "version": FEATURE_VERSION}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self) -> dict:
        """The identity recorded in a feature store's index."""
        return {"encoder": self.name, "modality": self.modality, "dim": self.dim,
                "weights_id": self.weights_id, "config_hash": self.config_hash,
                "options": json.loads(json.dumps(self.options, sort_keys=True, default=str)),
                "fps": self.grid.fps}

    def encode(self, clip) -> np.ndarray:
        raise NotImplementedError

    def encode_batch(self, clips) -> list[np.ndarray]:
        return [self.encode(clip) for clip in clips]


def build_seeded(factory, seed: int):
    """Call ``factory()`` under a fixed torch seed without touching the global RNG stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()
