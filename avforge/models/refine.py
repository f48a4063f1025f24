"""Second-stage boundary refinement: look at the features around each coarse boundary.

The anchor-free head regresses start/end from a location that may sit many frames away from
the boundary. The refiner samples the fine (stride-1) fused features at the coarse start and
end positions (linear interpolation, plus +-``window`` frames around them) and regresses a
continuous residual offset for each boundary, so boundaries land between frames where the
evidence is, not where the location grid is.
"""
from __future__ import annotations

import torch
from torch import nn


def sample_frames(feats: torch.Tensor, positions: torch.Tensor, n_valid: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of (B, T, C) features at fractional frame positions (B, K) -> (B, K, C).

    Frame i's feature sits at its centre i + 0.5; positions are clamped to the valid frames.
    """
    u = positions - 0.5
    hi_idx = (n_valid - 1).clamp(min=0).to(u.dtype)[:, None]
    u = torch.minimum(u.clamp(min=0), hi_idx)
    lo = u.floor()
    frac = (u - lo).unsqueeze(-1)
    lo_idx = lo.long()
    hi = torch.minimum(lo + 1, hi_idx).long()
    c = feats.shape[-1]
    f_lo = feats.gather(1, lo_idx.unsqueeze(-1).expand(-1, -1, c))
    f_hi = feats.gather(1, hi.unsqueeze(-1).expand(-1, -1, c))
    return f_lo * (1 - frac) + f_hi * frac


class BoundaryRefiner(nn.Module):
    """Residual start/end offsets (frames) from features sampled around the coarse boundaries,
    and a localization-quality logit (trained towards the refined segment's IoU) from both."""

    def __init__(self, dim: int, window_frames: int):
        super().__init__()
        self.register_buffer("offsets", torch.arange(-window_frames, window_frames + 1, dtype=torch.float32),
                             persistent=False)
        n = len(self.offsets)
        self.proj = nn.Linear(dim, dim // 2)
        self.start = nn.Sequential(nn.Linear(n * (dim // 2) + 1, dim), nn.GELU(), nn.Linear(dim, 1))
        self.end = nn.Sequential(nn.Linear(n * (dim // 2) + 1, dim), nn.GELU(), nn.Linear(dim, 1))
        self.quality = nn.Sequential(nn.Linear(2 * (n * (dim // 2) + 1), dim), nn.GELU(), nn.Linear(dim, 1))

    def _context(self, feats, boundary, n_valid):
        """(B, K) boundaries -> (B, K, W*C' + 1): sampled features and the sub-frame phase."""
        b, k = boundary.shape
        pos = boundary.unsqueeze(-1) + self.offsets  # (B, K, W)
        sampled = sample_frames(feats, pos.reshape(b, -1), n_valid).reshape(b, k, -1)
        frac = (boundary - 0.5 - (boundary - 0.5).floor()).unsqueeze(-1)  # where between two centres
        return torch.cat([sampled, frac], dim=-1)

    def forward(self, fused: torch.Tensor, mask: torch.Tensor, points_frames: torch.Tensor,
                reg_frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Refined [start, end] positions (B, L, 2), frames from clip start; quality logits (B, L)."""
        coarse = reg_frames.detach()
        start, end = points_frames - coarse[..., 0], points_frames + coarse[..., 1]  # (B, L)
        n_valid = mask.sum(1)
        feats = self.proj(fused)
        at_start, at_end = self._context(feats, start, n_valid), self._context(feats, end, n_valid)
        refined = torch.stack([start + self.start(at_start).squeeze(-1), end + self.end(at_end).squeeze(-1)], -1)
        return refined, self.quality(torch.cat([at_start, at_end], dim=-1)).squeeze(-1)
