"""Raw outputs -> pre-NMS proposals in absolute seconds, with a modality label each."""
from __future__ import annotations

import torch

from avforge.core.batch import Batch
from avforge.core.types import MODALITIES
from avforge.core.timegrid import VIDEO_GRID
from avforge.core.types import Proposals
from avforge.models.outputs import DetectorOutput


def _anchor_free_candidates(out: DetectorOutput, b: int, n_frames: int):
    """(scores, start_frames, end_frames, modality ids) of one clip's valid locations."""
    valid = out.point_mask[b]
    if out.boundaries_frames is not None:
        start, end = out.boundaries_frames[b][valid].float().unbind(-1)
    else:
        centre, dist = out.point_frames[valid], out.reg_frames[b][valid].float()
        start, end = centre - dist[:, 0], centre + dist[:, 1]
    start, end = start.clamp(0, n_frames), end.clamp(0, n_frames)
    scores = torch.sigmoid(out.cls_logits[b][valid].float())
    if out.quality_logits is not None:
        scores = scores * torch.sigmoid(out.quality_logits[b][valid].float())
    return scores, start, end, out.attr_logits[b][valid].argmax(-1)


def _span_modality(audio_p: torch.Tensor, visual_p: torch.Tensor, start: torch.Tensor, end: torch.Tensor):
    """Modality id of frame spans [start, end) from mean per-modality probabilities:
    both if both means >= 0.5, else the larger one."""
    def span_mean(p):
        cs = torch.cat([p.new_zeros(1), p.cumsum(0)])
        return (cs[end] - cs[start]) / (end - start).clamp(min=1)
    a, v = span_mean(audio_p), span_mean(visual_p)
    ids = torch.where(a >= v, 0, 1)
    return torch.where((a >= 0.5) & (v >= 0.5), 2, ids)


def _bm_candidates(out: DetectorOutput, b: int, n_frames: int):
    """(scores, start_frames, end_frames, modality ids) of one clip's valid map cells."""
    bm = out.bm_logits[b, :, :n_frames].float()  # (D, T)
    d_idx, t_idx = torch.meshgrid(torch.arange(bm.shape[0], device=bm.device),
                                  torch.arange(n_frames, device=bm.device), indexing="ij")
    valid = t_idx + d_idx + 1 <= n_frames
    start, end = t_idx[valid], t_idx[valid] + d_idx[valid] + 1
    audio_p = torch.sigmoid(out.audio_logits[b, :n_frames].float())
    visual_p = torch.sigmoid(out.visual_logits[b, :n_frames].float())
    modality = _span_modality(audio_p, visual_p, start, end)
    return torch.sigmoid(bm[valid]), start.float(), end.float(), modality


def decode_proposals(out: DetectorOutput, batch: Batch, topk: int, min_score: float) -> list[Proposals]:
    """One Proposals per clip, sorted by score, at most ``topk``, scores >= ``min_score``."""
    results = []
    for b in range(out.mask.shape[0]):
        n_frames = int(out.mask[b].sum())
        parts = []
        if out.cls_logits is not None:
            parts.append(_anchor_free_candidates(out, b, n_frames))
        if out.bm_logits is not None:
            parts.append(_bm_candidates(out, b, n_frames))
        scores, start, end, modality = (torch.cat(x) for x in zip(*parts))
        keep = (scores >= min_score) & (end > start)
        scores, start, end, modality = scores[keep], start[keep], end[keep], modality[keep]
        order = torch.argsort(scores, descending=True, stable=True)[:topk]
        offset_s = float(batch.offset_s[b])
        results.append(Proposals(
            scores=scores[order].double().cpu().numpy(),
            starts_s=offset_s + VIDEO_GRID.to_seconds(start[order].double().cpu().numpy()),
            ends_s=offset_s + VIDEO_GRID.to_seconds(end[order].double().cpu().numpy()),
            modality=tuple(MODALITIES[i] for i in modality[order].tolist())))
    return results
