"""Cross-modal fusion: local cross-attention alignment, explicit discrepancy features, pyramid.

The discrepancy fusion aligns each modality onto the other (cross-attention restricted to a
window of +-w steps, with a learned relative-position bias, so a lip/speech lag of a few frames
is absorbed) and then describes *disagreement* explicitly: difference, product, absolute
difference and cosine similarity of each stream with the other stream aligned onto it. A
learned layer maps these to a discrepancy feature, fused with both streams. This is done at
every pyramid level and the levels are merged coarse-to-fine (hierarchical fusion).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avforge.models.config import DetectorConfig
from avforge.models.layers import ConvBlock, apply_mask


class LocalCrossAttention(nn.Module):
    """Queries of stream x attend to stream y within +-``window`` steps. (B, T, C) -> (B, T, C)."""

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        self.heads, self.window = heads, window
        self.norm_q, self.norm_kv = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.rel_bias = nn.Parameter(torch.zeros(heads, 2 * window + 1))

    def _windows(self, t: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) -> (B, T, 2w+1, ...): the neighbours of every step, zero beyond the edges."""
        w = self.window
        pad = [0, 0] * (t.dim() - 2) + [w, w]
        return F.pad(t, pad).unfold(1, 2 * w + 1, 1).movedim(-1, 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        h, d = self.heads, c // self.heads
        yn = self.norm_kv(y)
        q = self.q(self.norm_q(x)).view(b, t, h, d)
        k = self._windows(self.k(yn)).view(b, t, -1, h, d)  # (B, T, W, H, d)
        v = self._windows(self.v(yn)).view(b, t, -1, h, d)
        key_mask = self._windows(mask)  # (B, T, W)
        scores = torch.einsum("bthd,btwhd->bthw", q, k) / d ** 0.5 + self.rel_bias.unsqueeze(0).unsqueeze(0)
        scores = scores.masked_fill(~key_mask.unsqueeze(2), torch.finfo(scores.dtype).min)
        attn = scores.softmax(dim=-1)
        out = torch.einsum("bthw,btwhd->bthd", attn, v).reshape(b, t, c)
        return apply_mask(self.out(out), mask)


def discrepancy_features(x: torch.Tensor, y_aligned: torch.Tensor) -> torch.Tensor:
    """(B, T, C) x2 -> (B, T, 3C + 1): [x - y, x * y, |x - y|, cos(x, y)]."""
    diff = x - y_aligned
    cos = F.cosine_similarity(x, y_aligned, dim=-1, eps=1e-6).unsqueeze(-1)
    return torch.cat([diff, x * y_aligned, diff.abs(), cos], dim=-1)


class DiscrepancyFusion(nn.Module):
    """Align both ways, compute explicit discrepancy features, fuse with both streams."""

    def __init__(self, dim: int, heads: int, window: int, kernel_size: int, dropout: float):
        super().__init__()
        self.audio_to_visual = LocalCrossAttention(dim, heads, window)
        self.visual_to_audio = LocalCrossAttention(dim, heads, window)
        self.discrepancy = nn.Sequential(nn.Linear(2 * (3 * dim + 1), dim), nn.GELU(), nn.Linear(dim, dim))
        self.fuse = nn.Sequential(nn.Linear(3 * dim, dim), nn.GELU())
        self.block = ConvBlock(dim, kernel_size, dropout)

    def forward(self, visual, audio, mask):
        audio_on_visual = self.audio_to_visual(visual, audio, mask)
        visual_on_audio = self.visual_to_audio(audio, visual, mask)
        disc = self.discrepancy(torch.cat([discrepancy_features(visual, audio_on_visual),
                                           discrepancy_features(audio, visual_on_audio)], dim=-1))
        fused = self.fuse(torch.cat([visual, audio, disc], dim=-1))
        return self.block(apply_mask(fused, mask), mask)


class ConcatFusion(nn.Module):
    """Ablation baseline: channel concatenation, no alignment, no discrepancy features."""

    def __init__(self, dim: int, kernel_size: int, dropout: float):
        super().__init__()
        self.fuse = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())
        self.block = ConvBlock(dim, kernel_size, dropout)

    def forward(self, visual, audio, mask):
        return self.block(apply_mask(self.fuse(torch.cat([visual, audio], dim=-1)), mask), mask)


class SingleStream(nn.Module):
    """Ablation baseline: one modality only (the other is never encoded)."""

    def __init__(self, use: str, dim: int, kernel_size: int, dropout: float):
        super().__init__()
        self.use = use
        self.block = ConvBlock(dim, kernel_size, dropout)

    def forward(self, visual, audio, mask):
        return self.block(visual if self.use == "visual" else audio, mask)


def build_level_fusion(cfg: DetectorConfig) -> nn.Module:
    if cfg.fusion == "discrepancy":
        return DiscrepancyFusion(cfg.dim, cfg.attn_heads, cfg.attn_window_frames, cfg.kernel_size, cfg.dropout)
    if cfg.fusion == "concat":
        return ConcatFusion(cfg.dim, cfg.kernel_size, cfg.dropout)
    return SingleStream("audio" if cfg.fusion == "audio_only" else "visual", cfg.dim, cfg.kernel_size, cfg.dropout)


class PyramidFusion(nn.Module):
    """Fuse the two modality pyramids level by level, then merge coarse-to-fine (top-down)."""

    def __init__(self, cfg: DetectorConfig):
        super().__init__()
        levels = len(cfg.pyramid_strides)
        self.levels = nn.ModuleList(build_level_fusion(cfg) for _ in range(levels))
        self.top_down = nn.ModuleList(nn.Linear(cfg.dim, cfg.dim) for _ in range(levels - 1))
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.dim) for _ in range(levels))

    def forward(self, visual: list, audio: list, masks: list) -> list[torch.Tensor]:
        fused = [f(v, a, m) for f, v, a, m in zip(self.levels, visual, audio, masks)]
        for lvl in range(len(fused) - 2, -1, -1):
            t = fused[lvl].shape[1]
            up = fused[lvl + 1].repeat_interleave(2, dim=1)[:, :t]  # nearest upsampling
            fused[lvl] = apply_mask(fused[lvl] + self.top_down[lvl](up), masks[lvl])
        return [apply_mask(norm(f), m) for norm, f, m in zip(self.norms, fused, masks)]
