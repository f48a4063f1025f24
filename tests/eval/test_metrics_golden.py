"""Hand-computed AP/AR values for every rule and quirk of the official protocol (no package needed).

AP below is sum over ranks j >= 2 of (recall_j - recall_{j-1}) * max(precision_i, i >= j).
"""
import math

import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.eval import evaluate
from avforge.eval.protocols import ap_ar

T = (0.5,)


def ap(pred, labels, thresholds=T, **kw):
    return ap_ar(pred, labels, ap_iou_thresholds=thresholds, ar_n_proposals=(1,), ar_iou_thresholds=(0.5,), **kw)["ap"]


def ar(pred, labels, ns, thresholds=(0.5,), **kw):
    return ap_ar(pred, labels, ap_iou_thresholds=(0.5,), ar_n_proposals=ns, ar_iou_thresholds=thresholds, **kw)["ar"]


def test_false_positive_then_true_positive():
    # ranks: FP (r=0, p=0), TP (r=1, p=1/2) -> AP = (1 - 0) * 1/2
    assert ap({"a": [[0.9, 5, 6], [0.8, 0, 1]]}, {"a": [[0, 1]]}) == {0.5: 0.5}


def test_iou_touching_the_threshold_does_not_match():
    # [0, 2] vs [0, 1]: IoU = 1/2 exactly; a match needs IoU > t
    pred = {"a": [[0.9, 5, 6], [0.8, 0, 2]]}
    assert ap(pred, {"a": [[0, 1]]}, thresholds=(0.5, 0.49)) == {0.5: 0.0, 0.49: 0.5}
    assert ar(pred, {"a": [[0, 1]]}, (2,), thresholds=(0.5,)) == {2: 0.0}
    assert ar(pred, {"a": [[0, 1]]}, (2,), thresholds=(0.49,)) == {2: 1.0}


def test_union_is_the_outer_span():
    # [0, 1] vs [3, 4] never overlap (IoU 0); [0, 1] vs [0.2, 1.4]: inter 0.8, outer span 1.4 -> 0.571
    pred = {"a": [[0.9, 3, 4], [0.8, 0.2, 1.4]]}
    assert ap(pred, {"a": [[0, 1]]}, thresholds=(0.57, 0.58)) == {0.57: 0.5, 0.58: 0.0}


def test_one_perfect_proposal_scores_zero_ap_quirk():
    # the step from recall 0 to the first point is not counted
    result = ap_ar({"a": [[1.0, 1, 2]]}, {"a": [[1, 2]]}, ap_iou_thresholds=(0.5,), ar_n_proposals=(1,),
                   ar_iou_thresholds=(0.5,))
    assert result == {"ap": {0.5: 0.0}, "ar": {1: 1.0}}


def test_ground_truth_first_matching_in_file_order():
    # both proposals match the one segment; the segment takes the first in FILE order (score 0.2),
    # so the 0.9 one is a false positive: ranks FP, TP -> AP = 1/2 (score-first would give TP, FP -> 0)
    pred = {"a": [[0.2, 0, 1], [0.9, 0, 1.05]]}
    assert ap(pred, {"a": [[0, 1]]}) == {0.5: 0.5}
    # ActivityNet-style (score-first, first step counted): TP, FP -> AP = 1
    assert ap(pred, {"a": [[0, 1]]}, matching="activitynet") == {0.5: 1.0}


def test_greedy_ground_truth_first_is_not_optimal():
    # g1=[0,1], g2=[0,1.2]; p1=[0,1.1] fits both, p2=[0,0.9] fits only g1 (IoU with g2 = 0.75 < 0.8).
    # g1 takes p1 (first in file order), g2 is left without: 1 TP of 2 segments.
    # ranks: p2 (FP), p1 (TP): recall 0, 1/2; precision 0, 1/2 -> AP = 1/2 * 1/2
    pred = {"a": [[0.5, 0, 1.1], [0.9, 0, 0.9]]}
    assert ap(pred, {"a": [[0, 1], [0, 1.2]]}, thresholds=(0.8,)) == {0.8: 0.25}


def test_ar_uses_file_order_not_score_order():
    pred = {"a": [[0.1, 5, 6], [0.9, 0, 1]]}
    assert ar(pred, {"a": [[0, 1]]}, (1, 2)) == {1: 0.0, 2: 1.0}


def test_ar_has_no_one_to_one_constraint():
    # one proposal [0, 1] recalls both [0, 1] (IoU 1) and [0, 1.05] (IoU 0.952 > 0.95)
    pred = {"a": [[0.1, 0, 1], [0.9, 5, 6]]}
    labels = {"a": [[0, 1], [0, 1.05]]}
    thresholds = tuple(0.5 + 0.05 * i for i in range(10))
    assert ar(pred, labels, (1,), thresholds) == {1: 1.0}
    # AP is one-to-one: 1 TP of 2 segments, ranks FP, TP -> 1/2 * 1/2
    assert ap(pred, labels) == {0.5: 0.25}


def test_ar_mean_over_thresholds_and_sum_over_videos():
    # IoU 0.8 ([0,1] vs [0,1.25]): recalled at 0.50..0.75 (6 of 10 thresholds) -> video a: 1 of 1;
    # video b: 2 segments, one hit exactly (10/10), one never (0/10)
    pred = {"a": [[0.5, 0, 1.25]], "b": [[0.5, 0, 1]]}
    labels = {"a": [[0, 1]], "b": [[0, 1], [7, 8]]}
    thresholds = tuple(0.5 + 0.05 * i for i in range(10))
    # recall per threshold = (hits in a + hits in b) / 3 segments
    expected = np.mean([(1 + 1) / 3] * 6 + [1 / 3] * 4)
    assert ar(pred, labels, (1,), thresholds)[1] == pytest.approx(expected, abs=1e-7)


def test_score_ties_keep_label_order_then_file_order():
    # equal scores: the video listed first in the labels ranks first
    fp_first = {"v1": [[0.5, 5, 6]], "v2": [[0.5, 0, 1]]}
    labels = {"v1": [[0, 1]], "v2": [[0, 1]]}
    assert ap(fp_first, labels) == {0.5: 0.25}  # FP, TP: recall 0, 1/2; precision 0, 1/2
    swapped = {"v2": [[0.5, 0, 1]], "v1": [[0.5, 5, 6]]}
    assert ap(swapped, {"v2": [[0, 1]], "v1": [[0, 1]]}) == {0.5: 0.0}  # TP, FP: first step not counted


def test_scores_tie_in_float32():
    # 0.30000001 and 0.3 are the same float32: a tie, so label order decides (TP first -> AP 0);
    # in float64 the FP would rank first (AP 1/4)
    pred = {"v1": [[0.3, 0, 1]], "v2": [[0.30000001, 5, 6]]}
    assert ap(pred, {"v1": [[0, 1]], "v2": [[0, 1]]}) == {0.5: 0.0}


def test_proposals_of_real_videos_are_false_positives():
    pred = {"real": [[0.9, 0, 1]], "fake": [[0.8, 0, 1]]}
    labels = {"real": [], "fake": [[0, 1]]}
    assert ap(pred, labels) == {0.5: 0.5}
    assert ar(pred, labels, (1,)) == {1: 1.0}  # real videos add neither TP nor FN


def test_empty_list_counts_its_segments_as_missed():
    # "a" has no proposal: its segment stays in the AP denominator and is a FN in AR
    pred = {"a": [], "b": [[0.5, 9, 10], [0.4, 0, 1]]}
    labels = {"a": [[0, 1]], "b": [[0, 1]]}
    assert ap(pred, labels) == {0.5: 0.25}  # FP, TP: recall 0, 1/2; precision 0, 1/2
    assert ar(pred, labels, (1, 2)) == {1: 0.0, 2: 0.5}


def test_no_ground_truth_at_all_gives_undefined_ap():
    result = ap({"real": [[0.9, 0, 1]]}, {"real": []})
    assert math.isnan(result[0.5])


def test_lavdf_frame_units_and_subset():
    def record(file, periods, video, audio, split="test"):
        return {"file": file, "fake_periods": periods, "modify_video": video, "modify_audio": audio, "split": split}

    records = [record("test/1.mp4", [[0.0, 1.0]], True, False), record("test/2.mp4", [[2.0, 3.0]], False, True),
               record("test/3.mp4", [], False, False), record("train/9.mp4", [[0.0, 1.0]], True, True, "train")]
    with pytest.raises(AvforgeError, match="labels mix splits test, train"):
        evaluate({}, records, "lavdf")
    # frames at 25 fps: [0, 25] = [0 s, 1 s]; video 2's proposal misses
    pred = {"test/1.mp4": [[0.5, 0, 25]], "test/2.mp4": [[0.6, 0, 25]], "test/3.mp4": [[0.9, 50, 75]]}
    full = evaluate(pred, records, "lavdf", split="test")
    # ranks: real FP (0.9), v2 FP (0.6), v1 TP (0.5): recall 0, 0, 1/2; precision 0, 0, 1/3
    assert full.ap == {0.5: pytest.approx(1 / 6), 0.75: pytest.approx(1 / 6), 0.95: pytest.approx(1 / 6)}
    assert full.ar[100] == pytest.approx(0.5) and full.split == "test" and full.score is None
    subset = evaluate(pred, records, "lavdf", subset="subset", split="test")
    # video 2 dropped: ranks FP, TP: recall 0, 1; precision 0, 1/2
    assert subset.ap[0.5] == pytest.approx(0.5) and subset.ar[100] == 1.0
    assert subset.n_videos == 2 and subset.subset == "subset"


def test_challenge_score_is_half_mean_ap_plus_half_mean_ar():
    pred = {"a": [[0.9, 5, 6], [0.8, 0, 1]]}
    report = evaluate(pred, [{"file": "a", "fake_segments": [[0, 1]]}], "avdeepfake1m")
    # AP = 1/2 at every threshold (perfect match); AR@N: first proposal misses, 2nd hits -> AR@5.. = 1
    assert report.ap == {0.5: 0.5, 0.75: 0.5, 0.9: 0.5, 0.95: 0.5}
    assert report.ar == {50: 1.0, 30: 1.0, 20: 1.0, 10: 1.0, 5: 1.0}
    assert report.score == pytest.approx(0.75)
    assert report.to_dict()["ap"] == {"0.5": 0.5, "0.75": 0.5, "0.9": 0.5, "0.95": 0.5}


def _activitynet_reference(pred, labels, t):
    """Plain-loop ActivityNet-style AP (score-first greedy, IoU = inter / (len_p + len_g - inter) >= t,
    first step counted); random scores and times, so no ties for the order rules to decide."""
    rows = sorted(((s, f, a, b) for f, props in pred.items() for s, a, b in props), key=lambda r: -r[0])
    taken = {f: [False] * len(g) for f, g in labels.items()}
    tp = []
    for _, f, a, b in rows:
        inters = [max(0.0, min(b, e) - max(a, s)) for s, e in labels[f]]
        ious = [i / ((e - s) + (b - a) - i) for i, (s, e) in zip(inters, labels[f])]
        hit = False
        for j in sorted(range(len(ious)), key=lambda j: -ious[j]):
            if ious[j] < t:
                break
            if not taken[f][j]:
                taken[f][j] = hit = True
                break
        tp.append(hit)
    n_gt = sum(len(g) for g in labels.values())
    acc = np.cumsum(tp)
    precision, recall = acc / np.arange(1, len(tp) + 1), acc / n_gt
    total, prev_r = 0.0, 0.0
    for i in range(len(tp)):
        if tp[i]:
            total += (recall[i] - prev_r) * precision[i:].max()
            prev_r = recall[i]
    return total


def test_activitynet_matches_a_plain_loop_reference():
    rng = np.random.default_rng(3)
    pred, labels = {}, {}
    for v in range(40):
        segs = [[float(s), float(s + rng.uniform(0.3, 1.5))] for s in np.sort(rng.uniform(0, 8, rng.integers(0, 4)))]
        labels[f"v{v}"] = [sg for i, sg in enumerate(segs) if i == 0 or sg[0] > segs[i - 1][1]]
        starts = rng.uniform(0, 9, 12)
        pred[f"v{v}"] = [[float(rng.random()), float(s), float(s + rng.uniform(0.2, 1.6))] for s in starts]
    for t in (0.3, 0.5, 0.7):
        got = ap(pred, labels, thresholds=(t,), matching="activitynet")[t]
        assert got == pytest.approx(_activitynet_reference(pred, labels, t), abs=1e-12)


def test_protocol_thresholds_equal_the_official_call_in_float32():
    from avforge.eval import PROTOCOLS

    official_ar = np.float32([0.5 + 0.05 * i for i in range(10)])  # what the official examples pass
    for name in ("avdeepfake1m", "lavdf"):
        assert np.array_equal(np.float32(PROTOCOLS[name].ar_iou_thresholds), official_ar)
    assert PROTOCOLS["lavdf"].fps == 25.0 and PROTOCOLS["lavdf"].ar_n_proposals == (100, 50, 20, 10)
    assert PROTOCOLS["avdeepfake1m"].ap_iou_thresholds == (0.5, 0.75, 0.9, 0.95)


def test_score_ranks_equal_a_stable_descending_argsort():
    from avforge.eval.localization import score_ranks

    rng = np.random.default_rng(4)
    scores = np.concatenate([np.round(rng.normal(size=5000), 1), [0.0, -0.0, 1e-40, -1e-40, np.inf]])
    expected = np.empty(len(scores), dtype=np.int64)
    expected[np.argsort(-scores.astype(np.float32), kind="stable")] = np.arange(1, len(scores) + 1)
    assert np.array_equal(score_ranks(scores), expected)
