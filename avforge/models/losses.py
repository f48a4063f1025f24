"""Losses as pure functions of tensors (no module state)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25,
                       gamma: float = 2.0) -> torch.Tensor:
    """Elementwise focal loss (Lin et al.): -alpha_t (1 - p_t)^gamma log(p_t). alpha < 0 disables alpha."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss


def diou_loss_1d(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(N, 2) distances (to start, to end) from the same location -> (N,) 1 - IoU + centre term.

    The centre term is (distance between segment centres / length of the enclosing span)^2.
    """
    ps, pe = pred[:, 0], pred[:, 1]
    ts, te = target[:, 0], target[:, 1]
    inter = (torch.minimum(ps, ts) + torch.minimum(pe, te)).clamp(min=0)
    union = (ps + pe) + (ts + te) - inter
    iou = inter / union.clamp(min=eps)
    enclosing = torch.maximum(ps, ts) + torch.maximum(pe, te)
    centre_gap = (pe - ps) / 2 - (te - ts) / 2  # centres relative to the location: (end - start)/2
    return 1 - iou + (centre_gap / enclosing.clamp(min=eps)) ** 2


def segment_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """IoU of [start, end] segments (..., 2), broadcast: paired (N, 2) -> (N,); (N, 1, 2) x (M, 2) -> (N, M)."""
    inter = (torch.minimum(a[..., 1], b[..., 1]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    union = (a[..., 1] - a[..., 0]).clamp(min=0) + (b[..., 1] - b[..., 0]) - inter
    return inter / union.clamp(min=eps)


def masked_bce(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over valid entries (0 if none)."""
    loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
    m = mask.to(logits.dtype)
    return (loss * m).sum() / m.sum().clamp(min=1)


def bm_map_loss(logits: torch.Tensor, iou: torch.Tensor, mask: torch.Tensor, kind: str = "mse",
                split: float = 0.5) -> torch.Tensor:
    """Boundary-matching map loss on IoU targets, valid cells only.

    Cells with IoU > ``split`` and the rest get equal total weight (most cells are near 0).
    ``kind`` = "mse" on sigmoid(logits) (BA-TFD) or "bce" with soft IoU targets.
    """
    m = mask.to(logits.dtype)
    high = (iou > split).to(logits.dtype) * m
    low = m - high
    weight = high / high.sum().clamp(min=1) + low / low.sum().clamp(min=1)
    if kind == "mse":
        per_cell = (torch.sigmoid(logits) - iou) ** 2
    else:
        per_cell = F.binary_cross_entropy_with_logits(logits, iou, reduction="none")
    return (per_cell * weight).sum() / (weight.sum().clamp(min=1e-6))


def attribution_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (N, 3) modality logits at positive locations (0 if N = 0)."""
    if labels.numel() == 0:
        return logits.sum() * 0
    return F.cross_entropy(logits, labels)


def av_contrastive_loss(visual: torch.Tensor, audio: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor,
                        margin: float = 0.99) -> torch.Tensor:
    """BA-TFD audio-visual contrastive loss, per frame.

    d = ||v/|v| - a/|a|||_2 per frame; real frames (fake = 0) pay d^2, fake frames pay
    max(margin - d, 0)^2; mean over valid frames. (B, T, C) x2, (B, T), (B, T) -> scalar.
    """
    d = (F.normalize(visual, dim=-1) - F.normalize(audio, dim=-1)).norm(dim=-1)
    f = fake.to(d.dtype)
    per_frame = (1 - f) * d ** 2 + f * (margin - d).clamp(min=0) ** 2
    m = mask.to(d.dtype)
    return (per_frame * m).sum() / m.sum().clamp(min=1)
