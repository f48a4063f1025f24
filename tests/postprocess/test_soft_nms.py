"""Soft-NMS / NMS / top-K / thresholds on hand cases; modality labels stay attached."""
import math

import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.core.types import Proposals
from avforge.postprocess import PostprocessConfig, iou_one_to_many, nms, postprocess, soft_nms, threshold, top_k

ALPHA, T1, T2 = 0.7234, 0.1968, 0.4123


def props(rows, modality=None):
    p = Proposals.from_rows(rows)
    return p if modality is None else Proposals(p.scores, p.starts_s, p.ends_s, tuple(modality))


def test_iou_one_to_many():
    got = iou_one_to_many(0.0, 1.0, np.array([0.0, 0.5, 2.0, 0.0]), np.array([0.8, 1.5, 3.0, 1.0]))
    np.testing.assert_allclose(got, [0.8, 0.5 / 1.5, 0.0, 1.0])


def test_soft_nms_decays_overlap_above_width_dependent_threshold():
    # kept [0, 1] s: threshold t1 + (t2 - t1) * 1 = 0.4123 < IoU 0.8 -> decayed
    out = soft_nms(props([[0.9, 0.0, 1.0], [0.8, 0.0, 0.8]]), ALPHA, T1, T2)
    np.testing.assert_allclose(out.scores, [0.9, 0.8 * math.exp(-0.64 / ALPHA)])
    np.testing.assert_allclose(out.ends_s, [1.0, 0.8])


def test_soft_nms_spares_overlap_below_threshold_for_long_segments():
    # kept [0, 3] s: threshold 0.1968 + 0.2155 * 3 = 0.8433 > IoU 0.8 -> untouched
    out = soft_nms(props([[0.9, 0.0, 3.0], [0.8, 0.0, 2.4]]), ALPHA, T1, T2)
    np.testing.assert_allclose(out.scores, [0.9, 0.8])


def test_soft_nms_reranks_and_keeps_modality_labels():
    # B overlaps A with IoU 0.9 and drops below the disjoint C
    p = props([[0.9, 0.0, 1.0], [0.85, 0.1, 1.0], [0.5, 2.0, 3.0]], ("audio", "visual", "both"))
    out = soft_nms(p, ALPHA, T1, T2)
    np.testing.assert_allclose(out.scores, [0.9, 0.5, 0.85 * math.exp(-0.81 / ALPHA)])
    assert out.modality == ("audio", "both", "visual")
    np.testing.assert_allclose(out.starts_s, [0.0, 2.0, 0.1])


def test_soft_nms_decay_accumulates_over_kept_proposals():
    # B vs A: IoU 1/3 < 0.4123, untouched. C vs A: IoU 0.5, decayed; then C vs B: IoU 0.5 again.
    out = soft_nms(props([[0.9, 0.0, 1.0], [0.8, 0.5, 1.5], [0.7, 0.5, 1.0]]), ALPHA, T1, T2)
    np.testing.assert_allclose(out.scores, [0.9, 0.8, 0.7 * math.exp(-0.25 / ALPHA) ** 2])


def naive_soft_nms(rows, alpha, t1, t2, limit):
    """Independent list-based restatement of the rule, for comparison on random data."""
    rows = sorted([list(r) for r in rows], key=lambda r: -r[0])
    kept = []
    while rows and len(kept) < limit:
        i = max(range(len(rows)), key=lambda j: (rows[j][0], -j))
        best = rows.pop(i)
        kept.append(best)
        for r in rows:
            inter = max(0.0, min(r[2], best[2]) - max(r[1], best[1]))
            union = (r[2] - r[1]) + (best[2] - best[1]) - inter
            iou = inter / union
            if iou > t1 + (t2 - t1) * (best[2] - best[1]):
                r[0] *= math.exp(-iou * iou / alpha)
    return sorted(kept, key=lambda r: -r[0])


def test_soft_nms_matches_naive_loop_on_random_proposals():
    rng = np.random.default_rng(0)
    starts = rng.uniform(0, 5, 60)
    rows = np.stack([rng.uniform(0, 1, 60), starts, starts + rng.uniform(0.05, 1.5, 60)], 1)
    out = soft_nms(Proposals.from_rows(rows), ALPHA, T1, T2, max_proposals=25)
    expected = np.asarray(naive_soft_nms(rows.tolist(), ALPHA, T1, T2, 25))
    assert len(out) == 25
    np.testing.assert_allclose(np.stack([out.scores, out.starts_s, out.ends_s], 1), expected)


def test_plain_nms_removes_overlaps_above_threshold():
    p = props([[0.9, 0.0, 1.0], [0.8, 0.1, 1.0], [0.7, 0.6, 1.6], [0.6, 3.0, 4.0]], ("a", "b", "c", "d"))
    out = nms(p, iou_threshold=0.5)
    assert out.modality == ("a", "c", "d")  # IoU(a, b) = 0.9 removed; IoU(a, c) = 0.25 kept
    assert len(nms(p, iou_threshold=0.5, max_proposals=2)) == 2


def test_threshold_and_top_k():
    p = props([[0.2, 0, 1], [0.0, 1, 2], [0.9, 2, 3], [0.5, 3, 4]])
    np.testing.assert_allclose(threshold(p, 0.0).scores, [0.9, 0.5, 0.2])
    np.testing.assert_allclose(top_k(p, 2).scores, [0.9, 0.5])
    assert len(top_k(p, 0)) == 4


def test_postprocess_pipeline_and_empty_input():
    p = props([[0.9, 0.0, 1.0], [0.8, 0.0, 0.8], [0.001, 5.0, 6.0], [0.7, 2.0, 3.0]])
    out = postprocess(p, PostprocessConfig(max_proposals=2))
    np.testing.assert_allclose(out.scores, [0.9, 0.7])
    assert len(postprocess(props(np.zeros((0, 3))), PostprocessConfig())) == 0
    assert len(postprocess(p, PostprocessConfig(method="none", min_score=0.01))) == 3
    with pytest.raises(AvforgeError, match="method"):
        PostprocessConfig(method="wbf")


@pytest.mark.parametrize("key,value", [("soft_nms_alpha", float("nan")), ("soft_nms_alpha", 0.0),
                                       ("soft_nms_t1", float("inf")), ("nms_iou", 1.5), ("min_score", -0.1),
                                       ("max_proposals", -3), ("pre_topk", -1), ("max_proposals", 2.5)])
def test_options_out_of_range_are_one_line_errors(key, value):
    with pytest.raises(AvforgeError, match=f"postprocess.{key}") as err:
        PostprocessConfig(**{key: value})
    assert "\n" not in str(err.value)


def test_cli_flags_go_through_the_same_checks():
    from argparse import Namespace

    from avforge.cli.postprocess import postprocess_config

    flags = dict(nms=None, top_k=None, score_threshold=None, pre_top_k=None, sigma=None, t1=None, t2=None,
                 nms_iou=None)
    assert postprocess_config(None, Namespace(**{**flags, "top_k": 0})).max_proposals == 0  # 0 = all
    for bad in ({"sigma": float("nan")}, {"top_k": -3}):
        with pytest.raises(AvforgeError):
            postprocess_config(None, Namespace(**{**flags, **bad}))
