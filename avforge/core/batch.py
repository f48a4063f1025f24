"""The batch record that flows from ``data`` (collate) into ``models``."""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass
class Batch:
    """Padded features of B clips on the 25 fps grid. ``mask`` is True on valid frames.

    Labels are None for unlabelled data. Segment times are seconds relative to the clip (or
    window) start ``offset_s``.
    """

    files: list[str]
    visual: torch.Tensor  # (B, T, Cv)
    audio: torch.Tensor  # (B, T, Ca)
    mask: torch.Tensor  # (B, T) bool
    offset_s: torch.Tensor  # (B,) start of the clip/window in the video, seconds
    duration_s: torch.Tensor  # (B,) valid length, seconds
    frame_labels: torch.Tensor | None = None  # (B, T) 1 = fake (any modality)
    audio_labels: torch.Tensor | None = None  # (B, T)
    visual_labels: torch.Tensor | None = None  # (B, T)
    segments: list[torch.Tensor] | None = None  # B x (N_i, 2) seconds, fused fake segments
    segment_modality: list[torch.Tensor] | None = None  # B x (N_i,) ids into core.types.MODALITIES
    # B x (N_i,) bool: True for pseudo-forgeries made in training (data.splice), whose edges are where
    # features were cut, not where a forger put them; None = none of them is
    segment_pseudo: list[torch.Tensor] | None = None
    # B x (W_i, 2) seconds: the clip's spoken words (data.train_words), empty where unknown; None = none known
    words: list[torch.Tensor] | None = None
    words_known: torch.Tensor | None = None  # (B,) bool: the clip has word timings

    def to(self, device) -> "Batch":
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                v = v.to(device)
            elif isinstance(v, list) and v and isinstance(v[0], torch.Tensor):
                v = [t.to(device) for t in v]
            out[f.name] = v
        return Batch(**out)
