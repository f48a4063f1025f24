"""Conformer encoder with relative-position self-attention, parameter names as in Auto-AVSR.

Block (pre-norm, macaron): x += ½·FF(x); x += RelMHA(x); x += Conv(x); x += ½·FF(x); LayerNorm.
Positions: Transformer-XL style relative sinusoids; the score of query i and key j adds
``(q_i + v) · W_pos · pe(i − j)`` to ``(q_i + u) · k_j``. ``mask`` (B, T) is True on valid frames;
padded frames are ignored by attention and zeroed before the depthwise convolution, so a padded
clip gives the same valid frames as the clip alone.
"""
from __future__ import annotations

import math

import torch
from torch import nn

LN_EPS = 1e-12  # ESPnet's LayerNorm epsilon (the checkpoints were trained with it)


def relative_sinusoids(n_frames: int, dim: int, device, dtype) -> torch.Tensor:
    """(2T−1, dim) encodings of relative positions T−1, T−2, …, −(T−1); sin/cos interleaved."""
    rel = torch.arange(n_frames - 1, -n_frames, -1, device=device, dtype=torch.float32)[:, None]
    inv_freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(2 * n_frames - 1, dim, device=device)
    pe[:, 0::2] = torch.sin(rel * inv_freq)
    pe[:, 1::2] = torch.cos(rel * inv_freq)
    return pe.to(dtype)


class FeedForward(nn.Module):
    def __init__(self, dim: int, units: int):
        super().__init__()
        self.w_1 = nn.Linear(dim, units)
        self.w_2 = nn.Linear(units, dim)

    def forward(self, x):
        return self.w_2(torch.relu(self.w_1(x)))


class RelPosSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.d_head = heads, dim // heads
        self.linear_q = nn.Linear(dim, dim)
        self.linear_k = nn.Linear(dim, dim)
        self.linear_v = nn.Linear(dim, dim)
        self.linear_out = nn.Linear(dim, dim)
        self.linear_pos = nn.Linear(dim, dim, bias=False)
        self.pos_bias_u = nn.Parameter(torch.empty(heads, self.d_head))
        self.pos_bias_v = nn.Parameter(torch.empty(heads, self.d_head))
        nn.init.xavier_uniform_(self.pos_bias_u)
        nn.init.xavier_uniform_(self.pos_bias_v)

    def _split(self, x):  # (B, T, C) -> (B, H, T, d)
        return x.view(x.shape[0], -1, self.heads, self.d_head).transpose(1, 2)

    def forward(self, x, pos, mask):
        """x (B, T, C), pos (2T−1, C) relative encodings, mask (B, T) True = valid."""
        n_frames = x.shape[1]
        q = self.linear_q(x).view(x.shape[0], n_frames, self.heads, self.d_head)  # (B, T, H, d)
        k, v = self._split(self.linear_k(x)), self._split(self.linear_v(x))
        p = self.linear_pos(pos).view(-1, self.heads, self.d_head).transpose(0, 1)  # (H, 2T−1, d)
        content = torch.matmul((q + self.pos_bias_u).transpose(1, 2), k.transpose(-2, -1))  # (B, H, T, T)
        by_offset = torch.matmul((q + self.pos_bias_v).transpose(1, 2), p.transpose(-2, -1))  # (B, H, T, 2T−1)
        i = torch.arange(n_frames, device=x.device)
        offset_idx = (n_frames - 1 - i[:, None] + i[None, :]).expand(*by_offset.shape[:2], -1, -1)
        scores = (content + torch.gather(by_offset, -1, offset_idx)) / math.sqrt(self.d_head)
        invalid = ~mask[:, None, None, :]
        scores = scores.masked_fill(invalid, torch.finfo(scores.dtype).min)
        attn = torch.softmax(scores, dim=-1).masked_fill(invalid, 0.0)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(x.shape[0], n_frames, -1)
        return self.linear_out(out)


class ConvModule(nn.Module):
    """Pointwise conv + GLU, depthwise conv, BatchNorm, SiLU, pointwise conv."""

    def __init__(self, dim: int, kernel: int):
        super().__init__()
        # "cov" (sic): the spelling of the released Auto-AVSR checkpoints, kept so keys match.
        self.pointwise_cov1 = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise_conv = nn.Conv1d(dim, dim, kernel, padding=(kernel - 1) // 2, groups=dim)
        self.norm = nn.BatchNorm1d(dim)
        self.pointwise_cov2 = nn.Conv1d(dim, dim, 1)

    def forward(self, x, mask):
        y = nn.functional.glu(self.pointwise_cov1(x.transpose(1, 2)), dim=1)  # (B, C, T)
        y = y * mask[:, None, :].to(y.dtype)
        y = nn.functional.silu(self.norm(self.depthwise_conv(y)))
        return self.pointwise_cov2(y).transpose(1, 2)


class ConformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, ff_units: int, kernel: int):
        super().__init__()
        self.self_attn = RelPosSelfAttention(dim, heads)
        self.feed_forward = FeedForward(dim, ff_units)
        self.feed_forward_macaron = FeedForward(dim, ff_units)
        self.conv_module = ConvModule(dim, kernel)
        self.norm_ff = nn.LayerNorm(dim, eps=LN_EPS)
        self.norm_mha = nn.LayerNorm(dim, eps=LN_EPS)
        self.norm_ff_macaron = nn.LayerNorm(dim, eps=LN_EPS)
        self.norm_conv = nn.LayerNorm(dim, eps=LN_EPS)
        self.norm_final = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, x, pos, mask):
        x = x + 0.5 * self.feed_forward_macaron(self.norm_ff_macaron(x))
        x = x + self.self_attn(self.norm_mha(x), pos, mask)
        x = x + self.conv_module(self.norm_conv(x), mask)
        x = x + 0.5 * self.feed_forward(self.norm_ff(x))
        return self.norm_final(x)


class ConformerEncoder(nn.Module):
    def __init__(self, dim: int, heads: int, ff_units: int, blocks: int, kernel: int):
        super().__init__()
        self.dim = dim
        self.encoders = nn.ModuleList(ConformerBlock(dim, heads, ff_units, kernel) for _ in range(blocks))
        self.after_norm = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, x, mask):
        """x (B, T, C), mask (B, T) True = valid -> (B, T, C)."""
        pos = relative_sinusoids(x.shape[1], self.dim, x.device, x.dtype)
        x = x * math.sqrt(self.dim)  # the input scaling of ESPnet's relative positional encoding
        for block in self.encoders:
            x = block(x, pos, mask)
        return self.after_norm(x)
