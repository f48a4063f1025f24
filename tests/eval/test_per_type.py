"""Per-modify-type scores: each fake type is scored with the real videos; blind spots show."""
import pytest

from avforge.eval import evaluate
from avforge.eval.report import format_table


def _record(file, kind, segments):
    return {"file": file, "split": "test", "modify_type": kind, "fake_segments": segments,
            "audio_fake_segments": segments if kind in ("audio_modified", "both_modified") else [],
            "visual_fake_segments": segments if kind in ("visual_modified", "both_modified") else []}


RECORDS = [_record("r1.mp4", "real", []), _record("r2.mp4", "real", []),
           _record("a1.mp4", "audio_modified", [[1.0, 2.0]]), _record("a2.mp4", "audio_modified", [[3.0, 4.0]]),
           _record("v1.mp4", "visual_modified", [[1.0, 2.0]]), _record("v2.mp4", "visual_modified", [[5.0, 6.0]]),
           _record("b1.mp4", "both_modified", [[2.0, 3.0], [6.0, 7.0]])]


def test_a_blind_spot_shows_per_type_but_hides_in_the_average():
    # audio and both found perfectly, visual missed entirely (proposals elsewhere), one real false alarm
    pred = {"r1.mp4": [[0.7, 0.0, 0.5]], "r2.mp4": [[0.1, 3.0, 3.5]],
            "a1.mp4": [[0.9, 1.0, 2.0]], "a2.mp4": [[0.95, 3.0, 4.0]],
            "v1.mp4": [[0.2, 7.0, 8.0]], "v2.mp4": [[0.3, 0.0, 1.0]],
            "b1.mp4": [[0.99, 2.0, 3.0], [0.98, 6.0, 7.0]]}
    scores = {"r1.mp4": 0.6, "r2.mp4": 0.1, "a1.mp4": 0.9, "a2.mp4": 0.8, "v1.mp4": 0.2, "v2.mp4": 0.7,
              "b1.mp4": 0.99}
    report = evaluate(pred, RECORDS, "avdeepfake1m", detection=scores, per_type=True)
    rows = {r.modify_type: r for r in report.per_type}
    assert list(rows) == ["real", "audio_modified", "visual_modified", "both_modified"]
    assert rows["real"].n_videos == 2 and rows["real"].false_alarms == 0.5
    assert rows["audio_modified"].found == 1.0 and rows["both_modified"].found == 1.0
    assert rows["visual_modified"].found == 0.0 and rows["visual_modified"].ap50 == 0.0
    assert rows["visual_modified"].ar == 0.0
    # audio: 2 GT, ranked 0.95 TP, 0.9 TP, then the real false alarm 0.7 -> AP counts the steps after the first
    assert rows["audio_modified"].ap50 == pytest.approx(0.5)
    assert rows["both_modified"].ap75 == rows["both_modified"].ap50 > 0 and rows["visual_modified"].ap75 == 0.0
    assert rows["both_modified"].n_segments == 2
    assert rows["audio_modified"].auc == 1.0 and rows["visual_modified"].auc == 0.75  # 3 of 4 (fake, real) pairs ordered
    assert 0.3 < report.ap[0.5] < 0.9  # the average sits between the types
    table = format_table(report)
    assert "visual_modified" in table and "false alarms" in table and "AP@0.75" in table


def test_ap75_per_type_asks_for_tight_boundaries():
    # both audio segments found at IoU 0.6 (AP@0.5 counts them, AP@0.75 does not); visual ones exact
    pred = {"r1.mp4": [], "r2.mp4": [], "a1.mp4": [[0.9, 1.0, 2.67]], "a2.mp4": [[0.9, 3.0, 4.67]],
            "v1.mp4": [[0.8, 1.0, 2.0]], "v2.mp4": [[0.8, 5.0, 6.0]], "b1.mp4": []}
    rows = {r.modify_type: r for r in evaluate(pred, RECORDS, "avdeepfake1m", per_type=True).per_type}
    assert rows["audio_modified"].ap50 > 0 and rows["audio_modified"].ap75 == 0.0
    assert rows["visual_modified"].ap75 == rows["visual_modified"].ap50 > 0


def test_found_counts_only_the_five_best_proposals():
    records = [_record("a.mp4", "audio_modified", [[1.0, 2.0]]), _record("r.mp4", "real", [])]
    miss = [[0.9 - 0.01 * i, 5.0 + i, 5.5 + i] for i in range(5)] + [[0.1, 1.0, 2.0]]
    hit = [[0.9 - 0.01 * i, 5.0 + i, 5.5 + i] for i in range(4)] + [[0.1, 1.0, 2.0]]
    for proposals, expected in ((miss, 0.0), (hit, 1.0)):
        report = evaluate({"a.mp4": proposals, "r.mp4": []}, records, "avdeepfake1m", per_type=True)
        assert report.per_type[1].found == expected


def test_frames_protocol_and_flag_only_labels():
    records = [{"file": "v.mp4", "split": "test", "modify_video": True, "modify_audio": False,
                "fake_periods": [[1.0, 2.0]]},
               {"file": "r.mp4", "split": "test", "modify_video": False, "modify_audio": False, "fake_periods": []}]
    pred = {"v.mp4": [[0.9, 25.0, 50.0]], "r.mp4": [[0.2, 0.0, 10.0]]}  # frame indices at 25 fps
    report = evaluate(pred, records, "lavdf", per_type=True)
    rows = {r.modify_type: r for r in report.per_type}
    assert rows["visual_modified"].found == 1.0 and rows["visual_modified"].ar_n == 10
    assert rows["real"].false_alarms == 0.0


def test_no_modify_type_no_table():
    records = [{"file": "v.mp4", "fake_segments": [[1.0, 2.0]]}]
    assert evaluate({"v.mp4": [[0.9, 1.0, 2.0]]}, records, per_type=True).per_type is None


def test_found_matches_a_per_video_count_on_unsorted_tied_and_missing_proposals():
    """The vectorised found@5 equals counting video by video (stable top 5 by score, IoU > 0.5)."""
    import numpy as np

    from avforge.eval.flat import flatten
    from avforge.eval.per_type import FOUND_TOP, found_fraction

    rng = np.random.default_rng(0)
    truth, pred = {}, {}
    for v in range(300):
        starts = rng.uniform(0, 8, rng.integers(1, 4))
        truth[f"{v}.mp4"] = [[s, s + rng.uniform(0.2, 1.5)] for s in starts]
        if v % 7:  # every 7th video has no proposals at all
            n = int(rng.integers(1, 12))
            s = rng.uniform(0, 8, n)
            scores = rng.choice([0.2, 0.5, 0.9], n) if v % 3 else rng.uniform(0, 1, n)  # ties in 2 of 3
            pred[f"{v}.mp4"] = [[float(c), a * 25, (a + rng.uniform(0.1, 1.5)) * 25] for c, a in zip(scores, s)]
    expected = 0
    for f, segs in truth.items():
        props = np.asarray(pred.get(f, np.zeros((0, 3))), dtype=float).reshape(-1, 3)
        top = props[np.argsort(-props[:, 0], kind="stable")[:FOUND_TOP], 1:] / 25
        for a, b in segs:
            iou = [max(0.0, min(e, b) - max(s, a)) / (max(e, b) - min(s, a)) for s, e in top]
            expected += any(i > 0.5 for i in iou)
    n_segments = sum(map(len, truth.values()))
    got = found_fraction(flatten(pred, width=3), flatten(truth, width=2), fps=25)
    assert 0.1 < expected / n_segments < 0.9  # the case is not trivial
    assert got == pytest.approx(expected / n_segments, abs=1e-12)
    sorted_pred = {f: sorted(r, key=lambda x: -x[0]) for f, r in pred.items()}  # the sorted fast path agrees
    assert found_fraction(flatten(sorted_pred, width=3), flatten(truth, width=2), fps=25) == got
