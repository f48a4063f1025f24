"""Second-stage boundary refinement: look at the features around each coarse boundary.

The anchor-free head regresses start/end from a location that may sit many frames away from
the boundary. The refiner samples the fine (stride-1) fused features at the coarse start and
end positions (linear interpolation, plus +-``window`` frames around them) and regresses a
continuous residual offset for each boundary, so boundaries land between frames where the
evidence is, not where the location grid is.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
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


def span_means(feats: torch.Tensor, start: torch.Tensor, end: torch.Tensor, n_valid: torch.Tensor) -> torch.Tensor:
    """Mean of (B, T, C) per-frame features over the fractional frame spans [start, end) (B, K) -> (B, K, C),
    frame i covering [i, i + 1); spans are clipped to the valid frames, an empty one is zero. Summed in
    float32 whatever the features' precision (a bf16 running sum would cancel badly)."""
    integral = F.pad(feats.float().cumsum(1), (0, 0, 1, 0))  # (B, T + 1, C): the sum of the frames before each edge
    hi = n_valid.to(start.dtype)[:, None]

    def at(x):  # the integral at fractional positions, linear between edges
        x = torch.minimum(x.clamp(min=0), hi)
        lo = x.floor().clamp(max=integral.shape[1] - 2)
        frac = (x - lo).unsqueeze(-1)
        idx = lo.long().unsqueeze(-1).expand(-1, -1, feats.shape[-1])
        return integral.gather(1, idx) * (1 - frac) + integral.gather(1, idx + 1) * frac

    length = (torch.minimum(end, hi) - torch.maximum(start, torch.zeros_like(start))).clamp(min=0)
    means = (at(end) - at(start)) / length.clamp(min=1e-3).unsqueeze(-1) * (length > 0).unsqueeze(-1)
    return means.to(feats.dtype)


class BoundaryRefiner(nn.Module):
    """Residual start/end offsets (frames) from features sampled around the coarse boundaries,
    and a localization-quality logit (trained towards the refined segment's IoU) from both; with
    ``span``, the quality also reads the mean features inside the refined segment and on each side
    of it (half its length, at least ``window_frames``): a segment whose flank looks as forged as
    its inside is probably part of a longer one."""

    def __init__(self, dim: int, window_frames: int, span: bool = False):
        super().__init__()
        self.register_buffer("offsets", torch.arange(-window_frames, window_frames + 1, dtype=torch.float32),
                             persistent=False)
        n = len(self.offsets)
        self.window, self.span = window_frames, span
        self.proj = nn.Linear(dim, dim // 2)
        self.start = nn.Sequential(nn.Linear(n * (dim // 2) + 1, dim), nn.GELU(), nn.Linear(dim, 1))
        self.end = nn.Sequential(nn.Linear(n * (dim // 2) + 1, dim), nn.GELU(), nn.Linear(dim, 1))
        q_in = 2 * (n * (dim // 2) + 1) + (3 * (dim // 2) if span else 0)
        self.quality = nn.Sequential(nn.Linear(q_in, dim), nn.GELU(), nn.Linear(dim, 1))

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
        evidence = [at_start, at_end]
        if self.span:
            r_start, r_end = refined.detach().unbind(-1)
            flank = ((r_end - r_start) / 2).clamp(min=self.window)
            evidence += [span_means(feats, r_start, r_end, n_valid), span_means(feats, r_start - flank, r_start, n_valid),
                         span_means(feats, r_end, r_end + flank, n_valid)]
        return refined, self.quality(torch.cat(evidence, dim=-1)).squeeze(-1)
