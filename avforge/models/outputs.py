"""DetectorOutput: the raw network outputs of one batch (logits, not probabilities)."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class DetectorOutput:
    """Raw outputs. Anchor-free tensors are flat over all pyramid levels: L = sum_l ceil(T / stride_l).

    Fields that a configuration does not produce are None (e.g. ``bm_logits`` without a BM head).
    """

    mask: torch.Tensor  # (B, T) bool, True = valid frame
    frame_logits: torch.Tensor  # (B, T) fused per-frame fake logit
    audio_logits: torch.Tensor  # (B, T) audio-is-fake per-frame logit
    visual_logits: torch.Tensor  # (B, T) visual-is-fake per-frame logit
    video_logits: torch.Tensor  # (B,) video-level fake logit (pooled head)
    visual_embed: torch.Tensor | None = None  # (B, T, C) visual encoding (contrastive loss); None if unused
    audio_embed: torch.Tensor | None = None  # (B, T, C) audio encoding; None if unused
    # lip-speech synchrony (None without model.sync)
    sync_visual: torch.Tensor | None = None  # (B, T, D) unit visual sync embeddings
    sync_audio: torch.Tensor | None = None  # (B, T, D) unit audio sync embeddings
    sync_curve: torch.Tensor | None = None  # (B, T, 2K + 1) cos(visual_t, audio_{t+k}), k = -K..K
    # anchor-free head (None without it)
    point_frames: torch.Tensor | None = None  # (L,) location centre, fractional frame position
    point_strides: torch.Tensor | None = None  # (L,) stride (frames) of the location's level
    point_levels: torch.Tensor | None = None  # (L,) pyramid level index
    point_mask: torch.Tensor | None = None  # (B, L) bool
    cls_logits: torch.Tensor | None = None  # (B, L) fake-segment logit per location
    reg_frames: torch.Tensor | None = None  # (B, L, 2) distances (frames, >= 0) to start and end
    attr_logits: torch.Tensor | None = None  # (B, L, 3) modality logits, classes = core MODALITIES
    boundaries_frames: torch.Tensor | None = None  # (B, L, 2) refined [start, end], frames from clip start
    quality_logits: torch.Tensor | None = None  # (B, L) predicted IoU of the refined segment (logit)
    edge_logits: torch.Tensor | None = None  # (B, T + 1, 2) start / end logits per frame edge (edge head)
    word_edge_logits: torch.Tensor | None = None  # (B, T + 1, 2) word start / end logits per edge (training aid)
    # boundary-matching head (None without it)
    bm_logits: torch.Tensor | None = None  # (B, D, T): [d, t] scores proposal frames [t, t + d + 1)

    def frame_probs(self) -> dict[str, torch.Tensor]:
        """Per-frame curves (B, T), zero on padding: fake probabilities ``fused``, ``audio``, ``visual``,
        and with a sync model ``sync``, the lip-speech agreement: cos(visual_t, audio_t) clipped to [0, 1]."""
        m = self.mask.to(self.frame_logits.dtype)
        probs = {"fused": torch.sigmoid(self.frame_logits) * m,
                 "audio": torch.sigmoid(self.audio_logits) * m,
                 "visual": torch.sigmoid(self.visual_logits) * m}
        if self.sync_curve is not None:
            probs["sync"] = self.sync_curve[..., self.sync_curve.shape[-1] // 2].clamp(0, 1) * m
        return probs

    def video_scores(self) -> torch.Tensor:
        """(B,) probability that the clip contains a forgery."""
        return torch.sigmoid(self.video_logits)
