"""Lip–speech synchrony: per-frame embeddings of the mouth and of the speech that agree when the
lips say what is heard (SyncNet-style), learned self-supervised on real clips.

Training signal (``sync_nce_loss``): for every valid frame of a real clip (with ``real_spans``, also
every frame of a forged clip far enough from its forgeries, ``real_frames``), the visual embedding
must pick the audio embedding of the same instant (InfoNCE) among the audio of every other frame
of the batch — the same clip shifted by more than ``exclude_frames`` (other words) and the other
clips — and the other way round. No forgery label is used, so what is learned is agreement
itself, not any generator's artefact.

What the detector consumes (``offset_curve``): per frame, the cosine similarity of the visual
embedding with the audio embedding shifted by -K..K frames. Real speech peaks at offset 0;
lips that say another word give a low, flat curve; lips that lag the speech peak elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from avforge.core.errors import AvforgeError
from avforge.models.layers import apply_mask


class SyncTower(nn.Module):
    """(B, T, C_in) -> (B, T, dim) unit vectors. A per-frame input projection (one linear layer, or
    with ``hidden`` > 0 a two-layer MLP through that width), then two residual temporal convs
    (dilation 1 and 2) of ``kernel_size``: receptive field +-3 * (kernel_size // 2) frames
    (kernel 5: +-6, +-0.24 s)."""

    def __init__(self, in_dim: int, dim: int, kernel_size: int = 5, hidden: int = 0):
        super().__init__()
        half = kernel_size // 2
        per_frame = [nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, dim)] if hidden else [nn.Linear(in_dim, dim)]
        self.inp = nn.Sequential(nn.LayerNorm(in_dim), *per_frame, nn.GELU())
        self.convs = nn.ModuleList([nn.Conv1d(dim, dim, kernel_size, padding=half),
                                    nn.Conv1d(dim, dim, kernel_size, padding=2 * half, dilation=2)])
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in self.convs)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = apply_mask(self.inp(x), mask)
        for conv, norm in zip(self.convs, self.norms):
            y = conv(norm(x).transpose(1, 2)).transpose(1, 2)
            x = apply_mask(x + F.gelu(y), mask)
        return F.normalize(self.out(x), dim=-1)


class SyncNet(nn.Module):
    """Visual and audio towers; ``offset_curve`` gives the detector its sync evidence."""

    def __init__(self, visual_dim: int, audio_dim: int, dim: int = 64, max_offset_frames: int = 6,
                 kernel_size: int = 5, hidden: int = 0):
        super().__init__()
        self.visual = SyncTower(visual_dim, dim, kernel_size, hidden)
        self.audio = SyncTower(audio_dim, dim, kernel_size, hidden)
        self.max_offset_frames = max_offset_frames
        self.context_frames = 3 * (kernel_size // 2)  # each embedding sees its frame +- this many

    @property
    def n_offsets(self) -> int:
        return 2 * self.max_offset_frames + 1

    def forward(self, visual: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor):
        """(B, T, Cv), (B, T, Ca), (B, T) -> visual and audio embeddings (B, T, dim), unit length."""
        return self.visual(visual.float(), mask), self.audio(audio.float(), mask)

    def offset_curve(self, v: torch.Tensor, a: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, 2K + 1): cos(v_t, a_{t+k}) for k = -K..K; 0 where t + k is padding or outside."""
        k = self.max_offset_frames
        a_pad = F.pad(apply_mask(a, mask), (0, 0, k, k))  # (B, T + 2K, D)
        windows = a_pad.unfold(1, 2 * k + 1, 1)  # (B, T, D, 2K + 1)
        return apply_mask(torch.einsum("btd,btdk->btk", v, windows), mask)


def real_frames(mask: torch.Tensor, frame_labels: torch.Tensor, margin: int) -> torch.Tensor:
    """(B, T) bool: valid frames more than ``margin`` frames from any fake frame (``frame_labels`` > 0)."""
    fake = (frame_labels > 0).float().unsqueeze(1)  # (B, 1, T)
    near = F.max_pool1d(fake, 2 * margin + 1, stride=1, padding=margin).squeeze(1) > 0
    return mask & ~near


def sync_nce_loss(v: torch.Tensor, a: torch.Tensor, mask: torch.Tensor, exclude_frames: int = 2,
                  temperature: float = 0.1, max_frames: int | None = None) -> torch.Tensor:
    """Symmetric InfoNCE over the valid frames of the batch (B, T, D) x2, mask (B, T).

    The positive of frame (b, t) is the other modality at (b, t); frames of the same clip within
    ``exclude_frames`` of t (near-duplicates of the positive) are neither positive nor negative.
    With more than ``max_frames`` valid frames, a random subset of that many (torch's RNG) takes
    part: the logits are N x N. Returns 0 when fewer than two frames are valid.
    """
    b_idx, t_idx = mask.nonzero(as_tuple=True)
    if max_frames is not None and len(b_idx) > max_frames:
        keep = torch.randperm(len(b_idx), device=b_idx.device)[:max_frames].sort().values
        b_idx, t_idx = b_idx[keep], t_idx[keep]
    if len(b_idx) < 2:
        return v.sum() * 0
    vs, as_ = v[b_idx, t_idx], a[b_idx, t_idx]  # (N, D)
    logits = vs @ as_.T / temperature  # (N, N)
    near = (b_idx[:, None] == b_idx[None, :]) & ((t_idx[:, None] - t_idx[None, :]).abs() <= exclude_frames)
    near.fill_diagonal_(False)
    logits = logits.masked_fill(near, torch.finfo(logits.dtype).min)
    target = torch.arange(len(b_idx), device=v.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


@dataclass
class SyncOutput:
    """What ``SyncPretrainModel`` computes for one batch."""

    visual: torch.Tensor  # (B, T, D) unit visual sync embeddings
    audio: torch.Tensor  # (B, T, D) unit audio sync embeddings
    mask: torch.Tensor  # (B, T) bool: the frames the loss learns from


class SyncPretrainModel(nn.Module):
    """A SyncNet trained alone on real clips (the sync stage of ``avforge train``); with ``real_spans``
    also on the frames of forged clips that no forged frame reaches through the towers' context.

    Its parameters are named ``sync.*`` exactly as the Detector's sync towers, so the trained
    weights load into a Detector with ``load_sync_weights``.
    """

    def __init__(self, visual_dim: int, audio_dim: int, dim: int, max_offset_frames: int,
                 exclude_frames: int, temperature: float, kernel_size: int = 5, max_frames: int | None = None,
                 hidden: int = 0, real_spans: bool = False):
        super().__init__()
        self.sync = SyncNet(visual_dim, audio_dim, dim, max_offset_frames, kernel_size, hidden)
        self.exclude_frames, self.temperature, self.max_frames = exclude_frames, temperature, max_frames
        self.real_spans = real_spans

    def forward(self, batch) -> SyncOutput:
        mask = batch.mask.bool()
        v, a = self.sync(batch.visual, batch.audio, mask)
        if self.real_spans:
            if batch.frame_labels is None:
                raise AvforgeError("model.sync_real_spans needs labelled training clips (frame labels)")
            mask = real_frames(mask, batch.frame_labels, self.sync.context_frames)
        return SyncOutput(v, a, mask)

    def loss(self, out: SyncOutput, batch) -> dict[str, torch.Tensor]:
        nce = sync_nce_loss(out.visual, out.audio, out.mask, self.exclude_frames, self.temperature,
                            self.max_frames)
        return {"nce": nce, "total": nce}


def load_sync_weights(model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy the ``sync.*`` tensors of a SyncPretrainModel state dict into ``model.sync``."""
    own = {k[len("sync."):]: v for k, v in tensors.items() if k.startswith("sync.")}
    model.sync.load_state_dict(own)
