"""Suppression and filtering of one video's Proposals (numpy, vectorised over candidates).

Every function returns a new ``Proposals`` sorted by score (highest first) and keeps the
per-proposal modality labels attached.
"""
from __future__ import annotations

import numpy as np

from avforge.core.types import Proposals
from avforge.postprocess.config import PostprocessConfig


def _take(p: Proposals, idx, scores=None) -> Proposals:
    idx = np.asarray(idx, dtype=np.int64)
    mod = None if p.modality is None else tuple(p.modality[i] for i in idx)
    s = np.asarray(p.scores, dtype=np.float64)[idx] if scores is None else np.asarray(scores, dtype=np.float64)
    return Proposals(s, np.asarray(p.starts_s, dtype=np.float64)[idx], np.asarray(p.ends_s, dtype=np.float64)[idx], mod)


def iou_one_to_many(start: float, end: float, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """IoU of segment [start, end] with each of ``starts/ends`` (0 where the union is empty)."""
    inter = np.clip(np.minimum(end, ends) - np.maximum(start, starts), 0.0, None)
    union = (end - start) + (ends - starts) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def threshold(p: Proposals, min_score: float) -> Proposals:
    """Keep proposals scoring strictly above ``min_score``."""
    p = p.sorted()
    return _take(p, np.flatnonzero(np.asarray(p.scores) > min_score))


def top_k(p: Proposals, k: int) -> Proposals:
    """The ``k`` highest-scoring proposals (all when k <= 0)."""
    p = p.sorted()
    return p if k <= 0 else _take(p, np.arange(min(k, len(p))))


def soft_nms(p: Proposals, alpha: float = 0.7234, t1: float = 0.1968, t2: float = 0.4123,
             max_proposals: int = 101) -> Proposals:
    """Gaussian Soft-NMS as in BA-TFD's post-processing.

    Repeatedly keep the highest current score; every remaining proposal whose IoU with it
    exceeds ``t1 + (t2 - t1) * width`` (width = the kept proposal's length in seconds) has its
    score multiplied by exp(-iou^2 / alpha). Stops after ``max_proposals`` (0 = no limit).
    Deviation: the reference loop ends while one candidate is left and so always drops the
    last one; here it is kept.
    """
    p = p.sorted()
    scores = np.asarray(p.scores, dtype=np.float64).copy()
    starts, ends = np.asarray(p.starts_s, dtype=np.float64), np.asarray(p.ends_s, dtype=np.float64)
    alive = np.ones(len(p), dtype=bool)
    limit = len(p) if max_proposals <= 0 else min(max_proposals, len(p))
    kept, kept_scores = [], []
    for _ in range(limit):
        cand = np.flatnonzero(alive)
        best = cand[np.argmax(scores[cand])]  # first of equal maxima = earlier in score order
        kept.append(best)
        kept_scores.append(scores[best])
        alive[best] = False
        rest = np.flatnonzero(alive)
        iou = iou_one_to_many(starts[best], ends[best], starts[rest], ends[rest])
        hit = iou > t1 + (t2 - t1) * (ends[best] - starts[best])
        scores[rest[hit]] *= np.exp(-np.square(iou[hit]) / alpha)
    return _take(p, kept, kept_scores).sorted()


def nms(p: Proposals, iou_threshold: float = 0.5, max_proposals: int = 0) -> Proposals:
    """Greedy NMS: drop proposals with IoU > ``iou_threshold`` with a higher-scoring kept one."""
    p = p.sorted()
    starts, ends = np.asarray(p.starts_s, dtype=np.float64), np.asarray(p.ends_s, dtype=np.float64)
    alive = np.ones(len(p), dtype=bool)
    kept = []
    for i in range(len(p)):
        if not alive[i]:
            continue
        kept.append(i)
        if max_proposals > 0 and len(kept) == max_proposals:
            break
        rest = np.flatnonzero(alive[i + 1:]) + i + 1
        alive[rest[iou_one_to_many(starts[i], ends[i], starts[rest], ends[rest]) > iou_threshold]] = False
    return _take(p, kept)


def postprocess(p: Proposals, cfg: PostprocessConfig) -> Proposals:
    """threshold -> pre top-k -> suppression -> threshold -> max_proposals, per ``cfg``."""
    p = top_k(threshold(p, cfg.min_score), cfg.pre_topk)
    if cfg.method == "soft_nms":
        p = soft_nms(p, cfg.soft_nms_alpha, cfg.soft_nms_t1, cfg.soft_nms_t2, cfg.max_proposals)
    elif cfg.method == "nms":
        p = nms(p, cfg.nms_iou, cfg.max_proposals)
    return top_k(threshold(p, cfg.min_score), cfg.max_proposals)
