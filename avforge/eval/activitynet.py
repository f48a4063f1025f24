"""ActivityNet-style evaluation as ActionFormer's and UMMAFormer's scripts compute it.

A DIFFERENT protocol from the official AV-Deepfake1M / LAV-DF one; the numbers are not comparable.
Rules (float64 throughout), each pinned against the reference scripts in tests/eval/test_activitynet.py:

* IoU = inter / (len_g + len_p - inter), the ActivityNet ``segment_iou`` arithmetic (it rounds
  differently from the official max(e) - min(s) on IoUs that sit on a threshold). Match: IoU >= t.
* AP@t: all proposals in the order ``np.argsort(scores)[::-1]`` of the scores in prediction-file
  order (what the references do; numpy's default sort is not stable, so tied scores fall in the
  order numpy gives, which this reproduces call for call). Each takes the first free ground-truth
  segment of its video in the order ``np.argsort(iou)[::-1]`` whose IoU >= t. AP is VOC-2011
  interpolated precision summed over the recall steps, first step included, summed as the
  references sum it (a trailing zero term when recall stays below 1).
* Proposals of videos without segments are false positives; no ground-truth segment at all: NaN.
* Per-video orders (AR) are ``np.argsort(video_scores)[::-1]`` over the video's rows in file order.
* UMMAFormer writes its results file in ``set()`` order (hash-seed dependent); the rule here is
  prediction-file order, what its evaluators give on a results file in that order.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from avforge.eval.flat import Ragged
from avforge.eval.localization import Matches, first_per_group, match_pairs, segment_iou
from avforge.eval.validation import validate_flat

DUPLICATE_TOLERANCE_S = 1e-3  # ActionFormer drops segments shorter than this and near-duplicates
UMMAFORMER_CAP = 100  # proposals per video UMMAFormer writes (the first ones, in file order)


def reference_ranks(scores: np.ndarray, file_position: np.ndarray) -> np.ndarray:
    """(M,) 0-based rank of each row in ``np.argsort(s)[::-1]`` of the scores laid out in file order.

    ``file_position``: (M,) position of each row in the prediction file (rows of other videos left out).
    """
    in_file_order = np.empty(len(scores))
    in_file_order[file_position] = scores
    rank_at = np.empty(len(scores), dtype=np.int64)
    rank_at[np.argsort(in_file_order)[::-1]] = np.arange(len(scores))
    return rank_at[file_position]


def positions_in_video(scores: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(M,) 0-based position of each row in its video's ``np.argsort(video_scores)[::-1]``.

    Videos without tied scores take a vectorised descending sort (the same order); the others run
    numpy's own argsort so tied scores land where the references put them.
    """
    video = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    order = np.lexsort((-scores, video))
    position = np.empty(len(scores), dtype=np.int64)
    position[order] = np.arange(len(order)) - offsets[video[order]]
    s, v = scores[order], video[order]
    for vid in np.unique(v[1:][(s[1:] == s[:-1]) & (v[1:] == v[:-1])]):
        lo, hi = offsets[vid], offsets[vid + 1]
        position[lo + np.argsort(scores[lo:hi])[::-1]] = np.arange(hi - lo)
    return position


def segment_tie_order(m: Matches, proposals: Ragged, labels: Ragged) -> np.ndarray:
    """(P,) order key among the pairs of one proposal with EQUAL IoU: the segment's position in
    ``np.argsort(iou_with_all_segments_of_its_video)[::-1]``; 0 where the row has no tied IoUs."""
    key = np.zeros(len(m.pair_row), dtype=np.int64)
    order = np.lexsort((m.pair_iou, m.pair_row))
    row, iou = m.pair_row[order], m.pair_iou[order]
    for r in np.unique(row[1:][(row[1:] == row[:-1]) & (iou[1:] == iou[:-1])]):
        pairs = np.flatnonzero(m.pair_row == r)
        v = m.pair_video[pairs[0]]
        segs = labels.rows[labels.offsets[v]:labels.offsets[v + 1]]
        full = segment_iou(proposals.rows[r, 1], proposals.rows[r, 2], segs[:, 0], segs[:, 1], union="sum")
        position = np.empty(len(segs), dtype=np.int64)
        position[np.argsort(full)[::-1]] = np.arange(len(segs))
        key[pairs] = position[m.pair_rank[pairs]]
    return key


def true_positive_rows(m: Matches, ranks: np.ndarray, tie_key: np.ndarray, threshold: float) -> np.ndarray:
    """Rows matched by score-first greedy matching at IoU >= threshold.

    Vectorised in rounds: in each round, the best-ranked proposal of every video that still sees a
    free segment takes its preferred free segment (highest IoU, ties by ``tie_key``); earlier
    proposals saw none, so they stay unmatched, exactly as the one-by-one loop decides.
    """
    sel = np.flatnonzero(m.pair_iou >= threshold)
    order = np.lexsort((tie_key[sel], -m.pair_iou[sel], ranks[m.pair_row[sel]], m.pair_video[sel]))
    row, seg, video = m.pair_row[sel][order], m.pair_segment[sel][order], m.pair_video[sel][order]
    row_done = np.zeros(len(m.scores), dtype=bool)
    seg_done = np.zeros(m.n_segments, dtype=bool)
    matched = []
    while len(row):
        first = first_per_group(video)
        row_done[row[first]] = True
        seg_done[seg[first]] = True
        matched.append(row[first])
        alive = ~(row_done[row] | seg_done[seg])
        row, seg, video = row[alive], seg[alive], video[alive]
    return np.concatenate(matched) if matched else np.zeros(0, dtype=np.int64)


def average_precision(m: Matches, ranks: np.ndarray, tie_key: np.ndarray,
                      thresholds: Sequence[float]) -> dict[float, float]:
    """AP for each threshold (NaN when there is no ground-truth segment, 0 without proposals)."""
    result = {}
    for t in thresholds:
        if m.n_segments == 0 or len(m.scores) == 0:
            result[float(t)] = float("nan") if m.n_segments == 0 else 0.0
            continue
        positions = np.sort(ranks[true_positive_rows(m, ranks, tie_key, t)]) + 1  # 1-based ranks of the TPs
        k = np.arange(1, len(positions) + 1, dtype=np.float64)
        precision = k / positions
        recall = k / float(m.n_segments)
        best_after = np.maximum.accumulate(precision[::-1])[::-1]
        terms = (recall - np.concatenate(([0.0], recall[:-1]))) * best_after
        if len(positions) != m.n_segments:  # the curve's last step, to recall 1 at precision 0
            terms = np.append(terms, 0.0)
        result[float(t)] = float(np.sum(terms))
    return result


def average_recall_top_n(m: Matches, position: np.ndarray, n_proposals: Sequence[int],
                         thresholds: Sequence[float]) -> dict[int, float]:
    """AR@N: per video the first N proposals of its score order; a segment is recalled when any of
    them has IoU >= t. Recall over all segments, averaged over the thresholds."""
    recall = np.zeros((len(thresholds), len(n_proposals)))
    for ti, t in enumerate(thresholds):
        best = _best_position(m, position, t)
        for ni, n in enumerate(n_proposals):
            recall[ti, ni] = np.count_nonzero(best < n) / m.n_segments if m.n_segments else 0.0
    return {int(n): float(recall[:, ni].mean()) for ni, n in enumerate(n_proposals)}


def average_recall_at_an(m: Matches, position: np.ndarray, segments_per_video: np.ndarray,
                         an: Sequence[int], thresholds: Sequence[float], budget: int = 100) -> dict[int, float]:
    """ActivityNet AR@AN as UMMAFormer's ``eval_proposal`` computes it (``max_avg_nr_proposals=budget``).

    With V fake videos and P proposals in all (real videos' included), a fake video with n proposals
    keeps its top w = min(int(n * budget * V / P), n); with W the sum of the w, AN = a keeps the top
    min(int(w * a / budget * budget * V / W), w) (float64 as the reference writes it). A fake video
    without proposals (the reference crashes) recalls nothing. AR = mean over thresholds.
    """
    fake = segments_per_video > 0
    n_fake, n_all = int(np.count_nonzero(fake)), len(m.scores)
    if m.n_segments == 0:
        return {int(a): float("nan") for a in an}
    n = np.diff(m.video_offsets)
    ratio = budget * float(n_fake) / n_all if n_all else 0.0
    kept = np.where(fake, np.minimum((n * ratio).astype(np.int64), n), 0)
    total = int(kept.sum())
    if total == 0:
        return {int(a): 0.0 for a in an}
    pcn = np.arange(1, budget + 1) / float(budget) * (budget * float(n_fake) / total)
    width = np.where(n > 0, kept, 1)
    allowed = np.stack([np.minimum((width * pcn[a - 1]).astype(np.int64), width) for a in an], axis=1)
    seg_video = np.repeat(np.arange(len(n)), segments_per_video)
    recall = np.empty((len(thresholds), len(an)))
    for ti, t in enumerate(thresholds):
        best = _best_position(m, position, t)
        recall[ti] = np.count_nonzero(best[:, None] < allowed[seg_video], axis=0) / float(m.n_segments)
    return {int(a): float(np.mean(recall[:, ai])) for ai, a in enumerate(an)}


def _best_position(m: Matches, position: np.ndarray, threshold: float) -> np.ndarray:
    """(G,) lowest in-video position of a proposal with IoU >= threshold per segment (int max: none)."""
    sel = np.flatnonzero(m.pair_iou >= threshold)
    best = np.full(m.n_segments, np.iinfo(np.int64).max)
    np.minimum.at(best, m.pair_segment[sel], position[m.pair_row[sel]])
    return best


def drop_duplicate_segments(labels: Ragged, tol: float = DUPLICATE_TOLERANCE_S) -> Ragged:
    """Ground truth as ActionFormer loads it: segments shorter than ``tol`` and segments within ``tol``
    (start and end) of an earlier kept one of the same video are dropped."""
    s, e = labels.rows[:, 0], labels.rows[:, 1]
    keep = (e - s) >= tol
    video = labels.video_of_row()
    rank = np.arange(len(s)) - labels.offsets[video]
    for r in range(1, int(labels.counts.max(initial=0))):
        rows = np.flatnonzero(rank == r)
        for earlier in range(r):
            other = rows - r + earlier
            keep[rows] &= ~(keep[other] & (np.abs(s[rows] - s[other]) <= tol) & (np.abs(e[rows] - e[other]) <= tol))
    if keep.all():
        return labels
    offsets = np.zeros(len(labels.files) + 1, dtype=np.int64)
    np.cumsum(np.bincount(video[keep], minlength=len(labels.files)), out=offsets[1:])
    return Ragged(files=labels.files, offsets=offsets, rows=labels.rows[keep])


def first_rows(proposals: Ragged, cap: int) -> Ragged:
    """Each video's first ``cap`` rows in file order (UMMAFormer keeps 100)."""
    if proposals.counts.max(initial=0) <= cap:
        return proposals
    video = proposals.video_of_row()
    keep = np.arange(len(proposals.rows)) - proposals.offsets[video] < cap
    offsets = np.zeros(len(proposals.files) + 1, dtype=np.int64)
    np.cumsum(np.minimum(proposals.counts, cap), out=offsets[1:])
    return Ragged(files=proposals.files, offsets=offsets, rows=proposals.rows[keep])


def ap_ar(predictions: Ragged, labels: Ragged, variant: str, ap_thresholds: Sequence[float],
          ar_n: Sequence[int], ar_thresholds: Sequence[float], *, fps: float = 1.0,
          source: str = "predictions", allow_extra: bool = False, labels_source: str = "labels") -> dict[str, dict]:
    """``{"ap": {t: AP}, "ar": {n: AR}}`` of ``variant``: "activitynet" (ActionFormer's AP; AR@N over
    the top N by score) or "ummaformer" (first 100 proposals per video; AR@AN of eval_proposal)."""
    validate_flat(predictions, labels.files, source=source, allow_extra=allow_extra)
    validate_flat(labels, source=labels_source)
    if variant == "ummaformer":
        predictions = first_rows(predictions, UMMAFORMER_CAP)
    else:
        labels = drop_duplicate_segments(labels)
    if fps != 1:
        rows = predictions.rows.copy()
        rows[:, 1:] /= fps
        predictions = Ragged(files=predictions.files, offsets=predictions.offsets, rows=rows)
    taken, src = predictions.take_rows(labels.files)
    file_position = np.arange(len(taken.rows))
    if src is not None:
        file_position[np.argsort(src, kind="stable")] = np.arange(len(src))
    lowest = min(tuple(ap_thresholds) + tuple(ar_thresholds))
    m = match_pairs(taken, labels, 1.0, lowest, inclusive=True, dtype=np.float64, union="sum")
    ranks = reference_ranks(m.scores, file_position)
    ap = average_precision(m, ranks, segment_tie_order(m, taken, labels), ap_thresholds)
    position = positions_in_video(m.scores, m.video_offsets)
    ar = (average_recall_at_an(m, position, labels.counts, ar_n, ar_thresholds) if variant == "ummaformer"
          else average_recall_top_n(m, position, ar_n, ar_thresholds))
    return {"ap": ap, "ar": ar}
