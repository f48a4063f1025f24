"""ActivityNet-style evaluation: a DIFFERENT protocol from the official AV-Deepfake1M / LAV-DF one.

What UMMAFormer-style papers report. Numbers are NOT comparable with the official evaluator's:

* AP@t: all proposals sorted by score (descending, stable); each, in that order, takes the free
  ground-truth segment of its video with the highest IoU, if that IoU >= t (score-first matching).
  AP is the interpolated area under precision/recall *including* the first recall step.
* AR@N: per video the N highest-scoring proposals (not file order); a segment is recalled when any
  of them has IoU >= t. Recall over all segments, averaged over the thresholds.
* float64 throughout; empty proposal lists leave their segments missed, like the official protocol here.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from avforge.eval.localization import Matches, first_per_group


def _score_order(scores: np.ndarray) -> np.ndarray:
    """(M,) 0-based rank of each row in the stable descending sort by score."""
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return ranks


def true_positive_rows(m: Matches, ranks: np.ndarray, threshold: float) -> np.ndarray:
    """Rows matched by score-first greedy matching at IoU >= threshold.

    Vectorised in rounds: in each round, the best-ranked proposal of every video that still sees a
    free segment takes its highest-IoU free segment; earlier proposals saw none, so they stay
    unmatched, exactly as the one-by-one greedy loop decides. Rounds <= segments per video.
    """
    sel = np.flatnonzero(m.pair_iou >= threshold)
    # pairs by video, then proposal rank, then IoU descending (ties: lower segment first)
    order = np.lexsort((m.pair_segment[sel], -m.pair_iou[sel], ranks[m.pair_row[sel]], m.pair_video[sel]))
    row, seg, video = m.pair_row[sel][order], m.pair_segment[sel][order], m.pair_video[sel][order]
    row_done = np.zeros(len(m.scores), dtype=bool)
    seg_done = np.zeros(m.n_segments, dtype=bool)
    matched = []
    while len(row):
        first = first_per_group(video)
        winners_row, winners_seg = row[first], seg[first]
        row_done[winners_row] = True
        seg_done[winners_seg] = True
        matched.append(winners_row)
        alive = ~(row_done[row] | seg_done[seg])
        row, seg, video = row[alive], seg[alive], video[alive]
    return np.concatenate(matched) if matched else np.zeros(0, dtype=np.int64)


def average_precision(m: Matches, thresholds: Sequence[float]) -> dict[float, float]:
    """ActivityNet-style AP for each threshold (NaN when there is no ground-truth segment)."""
    ranks = _score_order(m.scores)
    result = {}
    for t in thresholds:
        if m.n_segments == 0:
            result[float(t)] = float("nan")
            continue
        positions = np.sort(ranks[true_positive_rows(m, ranks, t)]) + 1  # 1-based ranks of the TPs
        k = np.arange(1, len(positions) + 1)
        precision = k / positions
        recall = k / m.n_segments
        best_after = np.maximum.accumulate(precision[::-1])[::-1] if len(k) else precision
        steps = np.diff(np.concatenate(([0.0], recall)))
        result[float(t)] = float(np.sum(steps * best_after))
    return result


def average_recall(m: Matches, n_proposals: Sequence[int], thresholds: Sequence[float]) -> dict[int, float]:
    """ActivityNet-style AR@N: top-N proposals by score per video, any match with IoU >= t."""
    video_of_row = np.repeat(np.arange(len(m.video_offsets) - 1), np.diff(m.video_offsets))
    order = np.lexsort((-m.scores, video_of_row))  # stable: by video, then score descending
    position = np.empty(len(m.scores), dtype=np.int64)
    position[order] = np.arange(len(order)) - m.video_offsets[video_of_row[order]]
    recall = np.zeros((len(thresholds), len(n_proposals)))
    for ti, t in enumerate(thresholds):
        sel = np.flatnonzero(m.pair_iou >= t)
        best = np.full(m.n_segments, np.iinfo(np.int64).max)
        np.minimum.at(best, m.pair_segment[sel], position[m.pair_row[sel]])
        for ni, n in enumerate(n_proposals):
            recall[ti, ni] = np.count_nonzero(best < n) / m.n_segments if m.n_segments else 0.0
    return {int(n): float(recall[:, ni].mean()) for ni, n in enumerate(n_proposals)}
