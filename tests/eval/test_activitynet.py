"""The ActivityNet protocols against numbers computed by RUNNING the reference scripts.

tests/eval/data/reference_golden.json holds small cases (our inputs) and what ActionFormer's
``ANETdetection`` (activitynet), UMMAFormer's ``eval_detection``/``eval_proposal`` (ummaformer) and
LAV-DF's ``metrics.py`` (lavdf) returned for them; benchmarks/compare_references.py wrote it with
the three repositories checked out (``--golden``) and runs the random-case comparison.
Scores tie only among at most 3 proposals there: beyond that numpy's default argsort (which the
references use and avforge reproduces call for call) may order ties differently per machine.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from avforge.eval import PROTOCOLS, evaluate
from avforge.eval.activitynet import drop_duplicate_segments, first_rows, positions_in_video, reference_ranks
from avforge.eval.flat import flatten
from avforge.eval.protocols import ap_ar

CASES = json.loads((Path(__file__).parent / "data" / "reference_golden.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[f"{c['protocol']}-{c['name']}" for c in CASES])
def test_equals_the_reference_script(case):
    preds = case["predictions"]
    if case["protocol"] == "lavdf":  # frame indices at 25 fps, as the LAV-DF code reads them
        preds = {f: [[s, a * 25, b * 25] for s, a, b in rows] for f, rows in preds.items()}
    report = evaluate(preds, case["metadata"], case["protocol"])
    tolerance = 1e-6 if case["protocol"] == "lavdf" else 1e-12  # float32 there, the same float64 sums here
    for kind, values in case["expected"].items():
        got = {str(k): v for k, v in getattr(report, kind).items()}
        assert got == pytest.approx(values, abs=tolerance, rel=0), kind


def test_every_rule_has_a_golden_case():
    names = {(c["protocol"], c["name"]) for c in CASES}
    for protocol in ("activitynet", "ummaformer"):
        for rule in ("iou_sum_union_on_threshold", "tied_scores_reverse_file_order", "tied_iou_takes_later_segment",
                     "linspace_0_9", "random_distinct_scores"):
            assert (protocol, rule) in names
    assert {("activitynet", "duplicate_and_short_segments"), ("ummaformer", "cap_first_100_in_file_order"),
            ("ummaformer", "an_budget_uneven_counts"), ("lavdf", "random_distinct_scores")} <= names


def test_ummaformer_thresholds_are_its_linspace():
    proto = PROTOCOLS["ummaformer"]
    assert proto.ap_iou_thresholds == proto.ar_iou_thresholds == tuple(np.linspace(0.5, 0.95, 10))
    assert proto.ap_iou_thresholds[8] == 0.8999999999999999 and proto.ar_n_proposals == (100, 50, 20, 10)
    # reported under nominal names
    report = evaluate({"a": [[0.9, 0.0, 1.0]]}, [{"file": "a", "fake_periods": [[0.0, 1.0]]}], "ummaformer")
    assert list(report.ap) == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


def test_every_protocol_names_what_it_reproduces():
    assert "official avdeepfake1m" in PROTOCOLS["avdeepfake1m"].reproduces
    assert "ControlNet/LAV-DF metrics.py" in PROTOCOLS["lavdf"].reproduces
    assert "ActionFormer" in PROTOCOLS["activitynet"].reproduces and "avforge's own" in PROTOCOLS["activitynet"].reproduces
    assert "UMMAFormer" in PROTOCOLS["ummaformer"].reproduces
    report = evaluate({"a": [[0.9, 0.0, 1.0]]}, [{"file": "a", "fake_segments": [[0.0, 1.0]]}], "activitynet")
    assert report.to_dict()["reproduces"] == PROTOCOLS["activitynet"].reproduces


def test_reference_ranks_follow_numpy_argsort_reversed_in_file_order():
    scores = np.array([0.3, 0.5, 0.5, 0.1, 0.5])
    file_position = np.array([4, 0, 1, 2, 3])  # row 0 is the file's last proposal
    in_file = np.empty(5)
    in_file[file_position] = scores
    expected = np.empty(5, dtype=np.int64)
    expected[np.argsort(in_file)[::-1]] = np.arange(5)
    assert reference_ranks(scores, file_position).tolist() == expected[file_position].tolist()


def test_positions_in_video_equal_a_per_video_argsort():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 30, 50)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    scores = np.round(rng.random(offsets[-1]), 1)  # many ties
    got = positions_in_video(scores, offsets)
    for v in range(50):
        lo, hi = offsets[v], offsets[v + 1]
        expected = np.empty(hi - lo, dtype=np.int64)
        expected[np.argsort(scores[lo:hi])[::-1]] = np.arange(hi - lo)
        assert got[lo:hi].tolist() == expected.tolist()


def test_activitynet_ar_takes_the_top_n_of_the_reference_order():
    # two tied proposals: argsort()[::-1] puts the second (the hit) first, so AR@1 = 1
    labels = {"a": [[0.0, 1.0]]}
    result = ap_ar({"a": [[0.5, 5.0, 6.0], [0.5, 0.0, 1.0]]}, labels, ap_iou_thresholds=(0.5,), ar_n_proposals=(1,),
                   ar_iou_thresholds=(0.5,), matching="activitynet")
    assert result == {"ap": {0.5: 1.0}, "ar": {1: 1.0}}


def test_drop_duplicate_segments_and_first_rows():
    labels = flatten({"a": [[1.0, 2.0], [1.0005, 2.0005], [3.0, 3.0005], [4.0, 5.0]], "b": [[1.0, 2.0]]}, width=2)
    kept = drop_duplicate_segments(labels)
    assert kept.rows.tolist() == [[1.0, 2.0], [4.0, 5.0], [1.0, 2.0]] and kept.offsets.tolist() == [0, 2, 3]
    props = flatten({"a": [[0.1 * i, i, i + 1] for i in range(5)], "b": [[0.5, 0, 1]]})
    capped = first_rows(props, 3)
    assert capped.rows[:, 1].tolist() == [0, 1, 2, 0] and capped.offsets.tolist() == [0, 3, 4]


def test_report_notes_what_the_variants_leave_out():
    meta = [{"file": "a", "fake_periods": [[1.0, 2.0], [1.0005, 2.0]]}]
    assert evaluate({"a": [[0.9, 1, 2]]}, meta, "activitynet").notes == (
        "1 ground-truth segments shorter than 1 ms or duplicated left out",)
    report = evaluate({"a": [[0.9, 1, 2]] * 103}, meta, "ummaformer")
    assert report.notes == ("3 proposals beyond the first 100 of a video left out",)
