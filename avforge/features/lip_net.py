"""The visual speech-recognition front end: 3D-conv stem + ResNet-18 trunk + conformer.

Module names follow the public Auto-AVSR visual model (see ``auto_avsr.py`` for the key table):
``frontend.frontend3D`` (Conv3d 1→64, kernel (5, 7, 7), stride (1, 2, 2), BN, SiLU, MaxPool3d),
``frontend.trunk`` (ResNet-18 basic blocks applied to each frame, global average pool → 512),
``proj_encoder`` (512 → 768) and ``encoder`` (12 conformer blocks). Time is never subsampled:
T input frames give T output frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from avforge.features.conformer import ConformerEncoder


@dataclass(frozen=True)
class LipNetConfig:
    widths: tuple[int, int, int, int] = (64, 128, 256, 512)  # stem = widths[0]
    dim: int = 768
    heads: int = 12
    ff_units: int = 3072
    blocks: int = 12
    conv_kernel: int = 31


PRESETS = {
    "auto-avsr": LipNetConfig(),  # the published VSR model's encoder (loadable with load_auto_avsr)
    "small": LipNetConfig(widths=(16, 32, 64, 128), dim=128, heads=4, ff_units=256, blocks=2, conv_kernel=15),
}


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu1 = nn.SiLU()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu2 = nn.SiLU()
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(y)) + shortcut)


class ResNetTrunk(nn.Module):
    """Four stages of two basic blocks; (N, C0, H, W) -> (N, widths[3])."""

    def __init__(self, widths):
        super().__init__()
        stages, in_ch = [], widths[0]
        for i, out_ch in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch, 1)))
            in_ch = out_ch
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3))


class VisualFrontend(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.frontend3D = nn.Sequential(
            nn.Conv3d(1, widths[0], (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False),
            nn.BatchNorm3d(widths[0]),
            nn.SiLU(),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        )
        self.trunk = ResNetTrunk(widths)

    def forward(self, x):
        """x (B, 1, T, H, W) -> (B, T, widths[3])."""
        y = self.frontend3D(x)  # (B, C, T, H', W')
        b, c, t, h, w = y.shape
        y = self.trunk(y.transpose(1, 2).reshape(b * t, c, h, w))
        return y.view(b, t, -1)


class LipReadingNet(nn.Module):
    def __init__(self, cfg: LipNetConfig):
        super().__init__()
        self.cfg = cfg
        self.frontend = VisualFrontend(cfg.widths)
        self.proj_encoder = nn.Linear(cfg.widths[3], cfg.dim)
        self.encoder = ConformerEncoder(cfg.dim, cfg.heads, cfg.ff_units, cfg.blocks, cfg.conv_kernel)

    def forward(self, video: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """video (B, T, H, W) normalised gray, zero on padded frames; mask (B, T) -> (B, T, dim)."""
        x = self.frontend(video[:, None])
        return self.encoder(self.proj_encoder(x), mask)
