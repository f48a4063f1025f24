"""Lip-reading encoder over 88×88 gray mouth crops: ``LipReadingNet`` wrapped as a feature encoder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from avforge.core.errors import AvforgeError
from avforge.features.auto_avsr import load_auto_avsr, read_checkpoint
from avforge.features.base import Encoder, build_seeded
from avforge.features.lip_net import PRESETS, LipReadingNet
from avforge.features.spec import WeightsRef, weights_digest
from avforge.io.mouth import crop_mouth

CROP_SIZE, INPUT_SIZE = 96, 88  # crop 96×96 around the mouth, then the centre 88×88 (as Auto-AVSR)
PIXEL_MEAN, PIXEL_STD = 0.421, 0.165  # Auto-AVSR's gray-level normalisation


class LipResNetEncoder(Encoder):
    """``variant``: "auto-avsr" (full size, dim 768; pass ``checkpoint=`` a published VSR model)
    or "small" (dim 128, trains on CPU). Without a checkpoint the weights are random from ``seed``.
    ``crop`` defaults to "avsr" (the alignment the published weights were trained on) for the
    auto-avsr variant, "detect" otherwise (every speaker's mouth at one place and scale).
    """

    name = "lip-resnet"
    modality = "visual"
    weights_option = "checkpoint"

    def __init__(self, variant: str = "small", checkpoint: str | None = None, crop: str | None = None,
                 seed: int = 0, trainable: bool = False, device: str = "cpu"):
        if variant not in PRESETS:
            raise AvforgeError(f"unknown lip-resnet variant {variant!r} (known: {', '.join(PRESETS)})")
        crop = crop or ("avsr" if variant == "auto-avsr" else "detect")
        super().__init__({"variant": variant, "crop": crop}, device)
        self.crop = crop
        self.net = build_seeded(lambda: LipReadingNet(PRESETS[variant]), seed)
        if checkpoint is not None:
            load_auto_avsr(self.net, read_checkpoint(checkpoint), source=checkpoint)
        self.seed = seed
        self.weights = WeightsRef("file" if checkpoint else "seed", Path(checkpoint).name if checkpoint else "",
                                  weights_digest(self.net))
        self.net.to(self.device).train(trainable).requires_grad_(trainable)
        self.dim = PRESETS[variant].dim

    def mouth_input(self, clip) -> torch.Tensor:
        """(T, 88, 88) normalised gray mouth crops on the device."""
        mouth = np.asarray(crop_mouth(clip.frames, mode=self.crop, size=CROP_SIZE, gray=True))
        off = (CROP_SIZE - INPUT_SIZE) // 2
        x = torch.as_tensor(mouth[:, off:off + INPUT_SIZE, off:off + INPUT_SIZE], device=self.device)
        return (x.float() / 255.0 - PIXEL_MEAN) / PIXEL_STD

    def encode(self, clip) -> np.ndarray:
        return self.encode_batch([clip])[0]

    def encode_batch(self, clips) -> list[np.ndarray]:
        """Zero-pads the clips to the longest; padded frames are masked out (see conformer.py)."""
        inputs = [self.mouth_input(c) for c in clips]
        lengths = [len(x) for x in inputs]
        video = torch.zeros(len(inputs), max(lengths), INPUT_SIZE, INPUT_SIZE, device=self.device)
        mask = torch.zeros(len(inputs), max(lengths), dtype=torch.bool, device=self.device)
        for i, x in enumerate(inputs):
            video[i, : len(x)] = x
            mask[i, : len(x)] = True
        with torch.set_grad_enabled(self.net.training):
            out = self.net(video, mask)  # (B, T, dim)
        return [out[i, :n].detach().float().cpu().numpy() for i, n in enumerate(lengths)]
