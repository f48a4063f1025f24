"""Boundary probabilities: whether a fake segment starts or ends at each edge between two frames.

The anchor-free head learns boundaries by regression from a few positive locations per segment.
This auxiliary head is trained densely on the same stride-1 fused features — every frame edge of
every clip is a sample — to say whether a segment starts or ends there (the temporal evaluation
module of BSN / BMN), so those features must carry where the lips and the speech start and stop
disagreeing. Its probabilities are not used at decoding: moving the regressed boundaries to the
likeliest edge ("snapping") was measured and cost sub-frame precision, and multiplying each
candidate's score by them (BSN's proposal confidence) helped only while pseudo-forgeries taught
the boundaries too (docs/results.md, "Boundaries").

Edge k lies between frames k - 1 and k (k = 0 .. T), i.e. at frame position k of the 25 fps grid.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avforge.models.layers import MaskedConv1d, apply_mask

TARGET_SIGMA_FRAMES = 1.0  # width of the Gaussian bump a true boundary puts on nearby edges
UNSURE_RADIUS_FRAMES = 2.0  # edges this close to a boundary of unknown truth are left out of the loss


def edge_mask(mask: torch.Tensor) -> torch.Tensor:
    """(B, T) valid frames -> (B, T + 1) valid edges: edge k is valid when frame k - 1 or k is."""
    return F.pad(mask, (0, 1)) | F.pad(mask, (1, 0))


class EdgeHead(nn.Module):
    """(B, T, C) fused stride-1 features -> (B, T + 1, 2) start / end logits per edge, from the
    features of the two frames around each edge and a masked temporal conv over edges."""

    def __init__(self, dim: int, kernel_size: int = 3):
        super().__init__()
        self.pair = nn.Linear(2 * dim, dim)
        self.conv = MaskedConv1d(dim, dim, kernel_size)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, 2)

    def forward(self, fused: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        emask = edge_mask(mask)
        x = F.pad(apply_mask(fused, mask), (0, 0, 1, 1))  # (B, T + 2, C): zero frames -1 and T
        h = apply_mask(F.gelu(self.pair(torch.cat([x[:, :-1], x[:, 1:]], dim=-1))), emask)
        y, _ = self.conv(h, emask)
        h = apply_mask(h + F.gelu(self.norm(y)), emask)
        return apply_mask(self.out(h), emask)


def edge_targets(segments_frames: torch.Tensor, n_frames: int, sigma: float = TARGET_SIGMA_FRAMES,
                 unsure_frames: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2) segments in fractional frames -> soft start / end targets (T + 1, 2) in [0, 1], and
    (T + 1,) bool: the edges that count in the loss. A boundary within half a frame of the clip's
    (or training crop's) ends may be a cut, not a forgery's edge: the outer edges do not count.
    Segments ``unsure_frames`` (M, 2) are fake without a known edge (pseudo-forgeries): edges within
    ``UNSURE_RADIUS_FRAMES`` of their boundaries do not count either way."""
    k = torch.arange(n_frames + 1, device=segments_frames.device, dtype=torch.float32)
    targets = torch.zeros(n_frames + 1, 2, device=k.device)
    if segments_frames.numel():
        d = k[:, None, None] - segments_frames[None]  # (T + 1, N, 2)
        targets = torch.exp(-0.5 * (d / sigma) ** 2).amax(dim=1)
    counted = (k >= 1) & (k <= n_frames - 1)
    if unsure_frames is not None and unsure_frames.numel():
        near = (k[:, None] - unsure_frames.reshape(1, -1)).abs() <= UNSURE_RADIUS_FRAMES
        counted &= ~near.any(dim=1)
    return targets, counted


def word_edge_targets(words_frames: torch.Tensor, n_frames: int, known: bool,
                      replaced_frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets for where spoken words (W, 2) (fractional frames) start and end, as ``edge_targets``;
    no edge counts when the clip's words are not ``known``, nor inside (or within ``UNSURE_RADIUS_FRAMES``
    of) audio that training replaced (``replaced_frames`` (M, 2)), whose words are another's."""
    targets, counted = edge_targets(words_frames, n_frames)
    k = torch.arange(n_frames + 1, device=targets.device, dtype=torch.float32)
    inside = ((k[:, None] >= replaced_frames[None, :, 0] - UNSURE_RADIUS_FRAMES)
              & (k[:, None] <= replaced_frames[None, :, 1] + UNSURE_RADIUS_FRAMES)).any(dim=1)
    return targets, counted & ~inside & bool(known)


def edge_loss(logits: torch.Tensor, targets: torch.Tensor, counted: torch.Tensor) -> torch.Tensor:
    """Start term + end term, each a class-balanced BCE over the counted edges (logits and targets
    (B, T + 1, 2)): edges near a boundary (target > 0.5) and the rest carry equal total weight, as
    in BSN (so each term is ln 2 at logits 0, however rare boundaries are)."""
    w = counted.unsqueeze(-1).to(logits.dtype).expand_as(logits)
    n_all = w.sum(dim=(0, 1)).clamp(min=1)  # (2,)
    ratio = (((targets > 0.5) * w).sum(dim=(0, 1)) / n_all).clamp(1e-3, 1 - 1e-3)
    bce_pos = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
    bce_neg = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
    per_edge = 0.5 / ratio * targets * bce_pos + 0.5 / (1 - ratio) * (1 - targets) * bce_neg
    return ((per_edge * w).sum(dim=(0, 1)) / n_all).sum()
