"""Heads: per-frame fake logits, anchor-free segments (+ attribution), boundary-matching map, video."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from avforge.models.layers import MaskedConv1d, apply_mask, masked_max_pool


def _mlp(in_dim: int, dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, dim), nn.GELU(), nn.Linear(dim, out_dim))


class FrameHeads(nn.Module):
    """Per-frame logits: fused (from the fused features) and one per modality (own stream + fused)."""

    def __init__(self, dim: int, has_audio: bool, has_visual: bool):
        super().__init__()
        self.fused = _mlp(dim, dim, 1)
        self.audio = _mlp(dim * (2 if has_audio else 1), dim, 1)
        self.visual = _mlp(dim * (2 if has_visual else 1), dim, 1)

    def forward(self, fused, visual, audio):
        def own(stream):
            return fused if stream is None else torch.cat([stream, fused], dim=-1)
        return (self.fused(fused).squeeze(-1), self.audio(own(audio)).squeeze(-1),
                self.visual(own(visual)).squeeze(-1))


class AnchorFreeHead(nn.Module):
    """Shared over pyramid levels: classification, start/end distances, modality attribution.

    Distances are ReLU(scale_l * x) * stride_l in frames (continuous, so boundaries are placed
    between frames). Attribution sees the tower features and the per-modality frame logits
    max-pooled to the level's resolution.
    """

    def __init__(self, dim: int, layers: int, kernel_size: int, strides: tuple[int, ...], prior_prob: float = 0.01):
        super().__init__()
        self.strides = strides
        self.tower = nn.ModuleList(MaskedConv1d(dim, dim, kernel_size) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.cls = MaskedConv1d(dim, 1, kernel_size)
        self.reg = MaskedConv1d(dim, 2, kernel_size)
        self.scales = nn.Parameter(torch.ones(len(strides)))
        self.attr = _mlp(dim + 2, dim, 3)
        nn.init.constant_(self.cls.conv.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: list, masks: list, audio_logits, visual_logits):
        cls_out, reg_out, attr_out = [], [], []
        frame_mask = masks[0]
        for lvl, (x, m) in enumerate(zip(feats, masks)):
            for conv, norm in zip(self.tower, self.norms):
                x, _ = conv(x, m)
                x = apply_mask(F.gelu(norm(x)), m)
            cls_out.append(self.cls(x, m)[0].squeeze(-1))
            reg = F.relu(self.scales[lvl] * self.reg(x, m)[0]) * self.strides[lvl]
            reg_out.append(apply_mask(reg, m))
            pooled = torch.stack([masked_max_pool(audio_logits, frame_mask, self.strides[lvl]),
                                  masked_max_pool(visual_logits, frame_mask, self.strides[lvl])], dim=-1)
            attr_out.append(self.attr(torch.cat([x, apply_mask(pooled, m)], dim=-1)))
        return torch.cat(cls_out, 1), torch.cat(reg_out, 1), torch.cat(attr_out, 1)


class BoundaryMatchingHead(nn.Module):
    """BA-TFD-style map: ``logits[b, d, t]`` scores the proposal of frames [t, t + d + 1).

    Each cell sees the start-frame feature, the end-frame feature and the mean over the span
    (by cumulative sums), then a 1x1 MLP and a 3x3 conv over neighbouring cells. Cells that end
    on padding are zeroed, so padding never reaches valid cells.
    """

    def __init__(self, dim: int, bm_dim: int, max_duration_frames: int):
        super().__init__()
        self.max_d = max_duration_frames
        self.proj = nn.Linear(dim, bm_dim)
        self.cell = nn.Sequential(nn.Conv2d(3 * bm_dim, bm_dim, 1), nn.GELU())
        self.context = nn.Conv2d(bm_dim, bm_dim, 3, padding=1)
        self.out = nn.Conv2d(bm_dim, 1, 1)

    def cell_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, D, T): cell (d, t) is valid when frame t + d is."""
        return F.pad(mask, (0, self.max_d)).unfold(1, self.max_d, 1)[:, : mask.shape[1]].transpose(1, 2)

    def forward(self, fused: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = apply_mask(self.proj(fused), mask)  # (B, T, c)
        t = x.shape[1]
        win = F.pad(x, (0, 0, 0, self.max_d)).unfold(1, self.max_d, 1)[:, :t]  # (B, T, c, D): frames t..t+D-1
        count = torch.arange(1, self.max_d + 1, device=x.device, dtype=x.dtype)
        mean = win.cumsum(-1) / count
        start = x.unsqueeze(-1).expand_as(win)
        cells = torch.cat([start, win, mean], dim=2).permute(0, 2, 3, 1)  # (B, 3c, D, T)
        cmask = self.cell_mask(mask).unsqueeze(1).to(x.dtype)  # (B, 1, D, T)
        h = self.cell(cells) * cmask
        h = F.gelu(h + self.context(h)) * cmask
        return self.out(h).squeeze(1)  # (B, D, T)


class VideoHead(nn.Module):
    """Video-level fake logit from masked mean + max pooling of the fused frame features."""

    def __init__(self, dim: int):
        super().__init__()
        self.mlp = _mlp(2 * dim, dim, 1)

    def forward(self, fused: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(fused.dtype)
        mean = (fused * m).sum(1) / m.sum(1).clamp(min=1)
        mx = fused.masked_fill(~mask.unsqueeze(-1), -1e4).amax(1)
        return self.mlp(torch.cat([mean, mx], dim=-1)).squeeze(-1)
