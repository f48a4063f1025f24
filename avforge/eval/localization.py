"""AP@IoU and AR@N exactly as the official AV-Deepfake1M evaluator computes them, vectorised.

The rules (FIELD.md §1), all in float32 like the official Rust extension:

* IoU = max(0, min(e1, e2) - max(s1, s2)) / (max(e1, e2) - min(s1, s2)); proposal times are divided
  by ``fps`` first. A match needs IoU strictly greater than the threshold.
* AP: per video, ground-truth segments in label order each take the first not-yet-used proposal in
  file order with IoU > t. Proposals of videos without segments are false positives. All proposals
  are stably sorted by score (descending; ties keep label-file order, then proposal order).
  AP = sum over ranks j >= 2 of (recall_j - recall_{j-1}) * max(precision_i, i >= j): the step from
  recall 0 to the first point is not counted (one video with one perfect proposal scores 0).
  The float32 sum follows the official reduction order (eight interleaved partial sums).
  With no ground-truth segment at all AP is undefined: NaN, as in the official.
* AR@N: per video the first N proposals in file order; a segment is recalled at (N, t) when any of
  them has IoU > t (no one-to-one constraint). TP/FN are summed over videos; AR@N is the mean
  recall over the thresholds.
* Empty proposal lists (the official 0.0.4 crashes on them): the video contributes no proposal and
  its segments count as missed, in AP (they stay in the recall denominator) and in AR (FN).

Hand-written rather than a library because exact parity with the official float32 rounding and
matching order is the point; it is vectorised over all videos (loops run over the GT rank only).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from avforge.eval.flat import Ragged, rows_of
from avforge.eval.validation import validate_flat

F32 = np.float32


@dataclass(frozen=True)
class Matches:
    """Proposal/segment pairs with IoU above the lowest threshold of interest, for one label set.

    Pairs are ordered by segment rank within its video, then by proposal row; rows are in label order.
    """

    scores: np.ndarray  # (M,) float32, all proposals in label order then file order
    video_offsets: np.ndarray  # (V + 1,) int64, proposal rows of each video
    n_segments: int  # G, all ground-truth segments
    pair_row: np.ndarray  # (P,) int64 proposal row
    pair_video: np.ndarray  # (P,) int64
    pair_segment: np.ndarray  # (P,) int64 global segment index
    pair_rank: np.ndarray  # (P,) int64 segment rank within its video
    pair_position: np.ndarray  # (P,) int64 proposal position within its video (file order)
    pair_iou: np.ndarray  # (P,) float32 (or the dtype asked for)


def match_pairs(proposals: Ragged, labels: Ragged, fps: float, min_threshold: float, *,
                inclusive: bool = False, dtype=F32, union: str = "span") -> Matches:
    """IoU of every proposal with every segment of its own video, keeping pairs with IoU > min_threshold
    (>= when ``inclusive``), computed in ``dtype`` (float32 like the official); ``union``: see segment_iou.

    ``proposals`` must list the same videos as ``labels`` in the same order (see Ragged.take).
    One pass per segment rank: the rank-r segment of each video is broadcast to that video's rows.
    """
    starts = proposals.rows[:, 1].astype(dtype)  # (M,)
    ends = proposals.rows[:, 2].astype(dtype)
    if fps != 1:  # x / 1 == x exactly
        starts /= dtype(fps)
        ends /= dtype(fps)
    segments = labels.rows.astype(dtype).reshape(-1, 2)  # (G, 2)
    per_video = proposals.counts  # (V,)
    parts = []
    for rank in range(int(labels.counts.max(initial=0))):
        videos = np.flatnonzero(labels.counts > rank)
        seg_of_video = np.full(len(per_video), -1)
        seg_of_video[videos] = labels.offsets[videos] + rank
        if 4 * per_video[videos].sum() >= len(starts):  # most rows take part: broadcast, no gathers
            rows = None
            gs, ge = np.full(len(per_video), np.nan, dtype), np.full(len(per_video), np.nan, dtype)
            gs[videos], ge[videos] = segments[seg_of_video[videos]].T
            gs, ge = np.repeat(gs, per_video), np.repeat(ge, per_video)  # NaN -> IoU NaN -> no match
            ps, pe = starts, ends
        else:  # few rows take part: gather them
            rows = rows_of(proposals.offsets, videos)
            seg = np.repeat(seg_of_video[videos], per_video[videos])
            gs, ge = segments[seg, 0], segments[seg, 1]
            ps, pe = starts[rows], ends[rows]
        with np.errstate(invalid="ignore"):
            iou = segment_iou(ps, pe, gs, ge, union)
            keep = np.flatnonzero(iou >= dtype(min_threshold) if inclusive else iou > dtype(min_threshold))
        kept_rows = keep if rows is None else rows[keep]
        parts.append((kept_rows, np.full(len(keep), rank), iou[keep]))
    pair_row, pair_rank, pair_iou = (np.concatenate(p) for p in zip(*parts)) if parts else (
        np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, dtype))
    pair_video = np.searchsorted(proposals.offsets, pair_row, side="right") - 1
    return Matches(scores=proposals.rows[:, 0].astype(dtype), video_offsets=proposals.offsets,
                   n_segments=len(segments), pair_row=pair_row, pair_video=pair_video,
                   pair_segment=labels.offsets[pair_video] + pair_rank, pair_rank=pair_rank,
                   pair_position=pair_row - proposals.offsets[pair_video], pair_iou=pair_iou)


def segment_iou(ps, pe, gs, ge, union: str = "span"):
    """IoU of proposals [ps, pe] with segments [gs, ge] (broadcast, in their dtype). ``union``: the outer
    ``span`` max(e) - min(s) (official), or ``sum`` (len_g + len_p) - inter as the ActivityNet code
    writes it; the two round differently, which decides IoUs that sit exactly on a threshold."""
    inter = np.maximum(np.minimum(pe, ge) - np.maximum(ps, gs), np.zeros((), np.result_type(ps, gs)))
    if union == "span":
        return inter / (np.maximum(pe, ge) - np.minimum(ps, gs))
    return inter / ((ge - gs) + (pe - ps) - inter)


def prepare(predictions: Ragged, labels: Ragged, fps: float, min_threshold: float, *,
            source: str = "predictions", allow_extra: bool = False, inclusive: bool = False,
            dtype=F32, union: str = "span", labels_source: str = "labels", geometry: str = "error") -> Matches:
    """Validate predictions against the labelled files (AvforgeError listing offenders), then pair them.
    ``geometry="warn"``: rows with start >= end or a negative start are scored with a warning."""
    validate_flat(predictions, labels.files, source=source, allow_extra=allow_extra, geometry=geometry)
    validate_flat(labels, source=labels_source, geometry=geometry)
    return match_pairs(predictions.take(labels.files), labels, fps, min_threshold, inclusive=inclusive, dtype=dtype,
                       union=union)


def first_per_group(groups: np.ndarray) -> np.ndarray:
    """Boolean mask of the first element of each run of equal values."""
    first = np.ones(len(groups), dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    return first


def true_positive_rows(m: Matches, threshold: float) -> np.ndarray:
    """Rows matched at IoU > threshold by ground-truth-first greedy matching in file order."""
    above = m.pair_iou > F32(threshold)
    used = np.zeros(len(m.scores), dtype=bool)
    for rank in range(int(m.pair_rank.max(initial=-1)) + 1):
        cand = np.flatnonzero(above & (m.pair_rank == rank))
        cand = cand[~used[m.pair_row[cand]]]
        winners = m.pair_row[cand[first_per_group(m.pair_video[cand])]]
        used[winners] = True
    return np.flatnonzero(used)


def score_ranks(scores: np.ndarray) -> np.ndarray:
    """(M,) 1-based rank of each row in the stable descending sort by float32 score."""
    # one unique uint64 key per row, (descending-ordered score bits) << 32 | row, sorts like a stable
    # descending argsort but with numpy's much faster plain sort
    bits = (scores.astype(F32) + F32(0)).view(np.uint32)  # + 0 turns -0.0 into 0.0 (they tie)
    descending = np.where(bits >> 31, bits, bits ^ np.uint32(0x7FFFFFFF))
    key = (descending.astype(np.uint64) << np.uint64(32)) | np.arange(len(scores), dtype=np.uint64)
    key.sort()
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[(key & np.uint64(0xFFFFFFFF)).astype(np.int64)] = np.arange(1, len(scores) + 1)
    return ranks


def _official_sum(values: np.ndarray, index: np.ndarray, length: int) -> F32:
    """float32 sum of a length-``length`` array that is zero except ``values`` at ``index`` (ascending),
    in the order of ndarray's eight-way unrolled fold (8 lane sums, combined, then the tail)."""
    n8 = length // 8 * 8
    lanes = [F32(0)] * 8
    body = index < n8
    for lane in range(8):
        v = values[body & (index % 8 == lane)]
        if len(v):
            lanes[lane] = np.add.accumulate(v, dtype=F32)[-1]
    acc = F32(0)
    for a, b in ((0, 4), (1, 5), (2, 6), (3, 7)):
        acc = F32(acc + F32(lanes[a] + lanes[b]))
    for v in values[~body]:
        acc = F32(acc + v)
    return acc


def average_precision_at(m: Matches, ranks: np.ndarray, threshold: float) -> float:
    """Official AP at one IoU threshold (see module docstring)."""
    n_labels = F32(m.n_segments)
    if m.n_segments == 0:
        return float("nan")
    positions = np.sort(ranks[true_positive_rows(m, threshold)])  # 1-based ranks of the TPs
    k = np.arange(1, len(positions) + 1)
    acc = k.astype(F32)
    precision = acc / (((positions - 1).astype(F32)) + F32(1))
    recall = acc / n_labels
    recall_before = (k - 1).astype(F32) / n_labels
    best_after = np.maximum.accumulate(precision[::-1])[::-1]
    terms = np.abs(recall_before - recall) * best_after
    counted = positions >= 2
    total = len(m.scores)
    # the official sums over the reversed curve: rank j sits at index total - j + 1
    index = (total - positions[counted] + 1)[::-1]  # ascending
    return float(_official_sum(terms[counted][::-1], index, total))


def _official_mean(values: np.ndarray, contiguous: bool) -> F32:
    """ndarray's ``mean`` of a float32 column: unrolled fold when contiguous, else a plain loop."""
    if contiguous:
        total = _official_sum(values, np.arange(len(values)), len(values))
    else:
        total = F32(0)
        for v in values:
            total = F32(total + v)
    return F32(total / F32(len(values)))


def average_recall(m: Matches, n_proposals: Sequence[int], thresholds: Sequence[float]) -> dict[int, float]:
    """Official AR@N for each N (mean recall over ``thresholds``)."""
    recall = np.zeros((len(thresholds), len(n_proposals)), dtype=F32)
    for ti, t in enumerate(thresholds):
        above = np.flatnonzero(m.pair_iou > F32(t))
        # pairs run by rank, then row: a segment's first pair has its earliest proposal position
        first_position = m.pair_position[above[first_per_group(m.pair_segment[above])]]
        for ni, n in enumerate(n_proposals):
            tp = int(np.count_nonzero(first_position < n))
            tp_f, fn_f = F32(tp), F32(m.n_segments - tp)
            recall[ti, ni] = F32(0) if tp_f + fn_f == 0 else tp_f / F32(tp_f + fn_f)
    contiguous = len(n_proposals) == 1
    return {int(n): float(_official_mean(recall[:, ni], contiguous)) for ni, n in enumerate(n_proposals)}


def average_precision(m: Matches, thresholds: Sequence[float]) -> dict[float, float]:
    """Official AP for each IoU threshold."""
    ranks = score_ranks(m.scores)
    return {float(F32(t)): average_precision_at(m, ranks, t) for t in thresholds}
