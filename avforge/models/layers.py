"""Masked temporal building blocks. Every tensor is (B, T, C) with a (B, T) bool ``mask``.

Padded frames are zeroed before every temporal mixing step, and normalisation is per frame
(LayerNorm), so appending padding never changes the outputs on valid frames.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero the padded steps of ``x`` (B, T, C)."""
    return x * mask.unsqueeze(-1).to(x.dtype)


def downsample_mask(mask: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, ceil(T / stride)) mask of a strided layer: a step is valid if its first frame is."""
    return mask[:, ::stride]


class MaskedConv1d(nn.Module):
    """Temporal conv with 'same' padding; output length ceil(T / stride); padding stays zero."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 3, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(in_dim, out_dim, kernel_size, stride=stride, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(apply_mask(x, mask).transpose(1, 2)).transpose(1, 2)  # (B, T', C)
        out_mask = downsample_mask(mask, self.stride)
        return apply_mask(y, out_mask), out_mask


class ConvBlock(nn.Module):
    """Pre-norm residual block: x + Dropout(Conv(GELU(Conv(LN(x)))))."""

    def __init__(self, dim: int, kernel_size: int = 3, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv1 = MaskedConv1d(dim, dim, kernel_size)
        self.conv2 = MaskedConv1d(dim, dim, kernel_size)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y, _ = self.conv1(self.norm(x), mask)
        y, _ = self.conv2(F.gelu(y), mask)
        return apply_mask(x + self.drop(y), mask)


class Downsample(nn.Module):
    """Halve the temporal length: strided masked conv + LayerNorm + GELU."""

    def __init__(self, dim: int, kernel_size: int = 3):
        super().__init__()
        self.conv = MaskedConv1d(dim, dim, kernel_size, stride=2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, out_mask = self.conv(x, mask)
        return apply_mask(F.gelu(self.norm(y)), out_mask), out_mask


class ModalityEncoder(nn.Module):
    """Per-modality temporal encoder over cached features, returning a pyramid.

    Level 0 = LN + linear projection + ``layers`` residual conv blocks; level l + 1 = a
    downsampled level l followed by one more block.
    """

    def __init__(self, in_dim: int, dim: int, layers: int, levels: int, kernel_size: int, dropout: float):
        super().__init__()
        self.inp = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, dim), nn.GELU())
        self.blocks = nn.ModuleList(ConvBlock(dim, kernel_size, dropout) for _ in range(layers))
        self.down = nn.ModuleList(Downsample(dim, kernel_size) for _ in range(levels - 1))
        self.level_blocks = nn.ModuleList(ConvBlock(dim, kernel_size, dropout) for _ in range(levels - 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        x = apply_mask(self.inp(x), mask)
        for block in self.blocks:
            x = block(x, mask)
        feats, masks = [x], [mask]
        for down, block in zip(self.down, self.level_blocks):
            x, mask = down(x, mask)
            x = block(x, mask)
            feats.append(x)
            masks.append(mask)
        return feats, masks


def masked_max_pool(x: torch.Tensor, mask: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, T) -> (B, ceil(T / stride)): max over each stride-long block of valid frames."""
    if stride == 1:
        return x
    filled = x.masked_fill(~mask, -1e4)
    return F.max_pool1d(filled.unsqueeze(1), stride, stride, ceil_mode=True).squeeze(1)
