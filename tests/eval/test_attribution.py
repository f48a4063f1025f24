"""Modality attribution accuracy on hand-computed cases, alone and through evaluate / the CLI."""
import json

import pytest

from avforge.core.errors import AvforgeError
from avforge.eval import evaluate
from avforge.eval.attribution import attribution_accuracy, segment_modalities
from avforge.eval.flat import flatten
from avforge.eval.report import format_table, metric_values

RECORDS = [
    # a: segment [1, 2] is audio-only, [5, 6] is in both lists
    {"file": "a.mp4", "modify_type": "both_modified", "fake_segments": [[1.0, 2.0], [5.0, 6.0]],
     "audio_fake_segments": [[1.0, 2.0], [5.0, 6.0]], "visual_fake_segments": [[5.0, 6.0]]},
    # b: no per-modality lists -> the modify type decides (visual)
    {"file": "b.mp4", "modify_type": "visual_modified", "fake_segments": [[3.0, 4.0]]},
    {"file": "c.mp4", "modify_type": "real", "fake_segments": []},
]


def test_segment_modalities_from_lists_then_modify_type_then_lavdf_flags():
    assert segment_modalities(RECORDS[0]) == ["audio", "both"]
    assert segment_modalities(RECORDS[1]) == ["visual"]
    assert segment_modalities(RECORDS[2]) == []
    lavdf = {"file": "d.mp4", "modify_audio": True, "modify_video": False, "fake_periods": [[0.0, 1.0]]}
    assert segment_modalities(lavdf, "fake_periods") == ["audio"]


def test_highest_scoring_matched_proposal_decides():
    pred = flatten({
        # [1, 2]: the 0.9 row has IoU 1/1.2 > 0.5 (visual, wrong); the 0.95 row has IoU 0.5, not > 0.5
        "a.mp4": [[0.9, 1.0, 2.2], [0.95, 1.0, 1.5], [0.3, 1.0, 2.0],
                  # [5, 6]: only the 0.2 row matches (IoU 0.8), predicted both -> correct
                  [0.2, 5.1, 5.9], [0.99, 5.8, 7.0]],
        "b.mp4": [[0.5, 8.0, 9.0]],  # no match: [3, 4] is unmatched, not wrong
        "c.mp4": [[0.7, 1.0, 2.0]],
    })
    modality = {"a.mp4": ["visual", "audio", "audio", "both", "audio"], "b.mp4": ["visual"], "c.mp4": ["audio"]}
    result = attribution_accuracy(pred, modality, RECORDS)
    assert (result.n_segments, result.n_matched, result.n_correct) == (3, 2, 1)
    assert result.accuracy == pytest.approx(0.5)
    assert result.matched_fraction == pytest.approx(2 / 3)
    assert result.confusion["audio"]["visual"] == 1 and result.confusion["both"]["both"] == 1


def test_frame_unit_predictions_are_divided_by_fps():
    pred = flatten({"b.mp4": [[0.5, 75.0, 100.0]]})  # frames at 25 fps = [3, 4] s
    result = attribution_accuracy(pred, {"b.mp4": ["visual"]}, [RECORDS[1]], fps=25.0)
    assert (result.accuracy, result.matched_fraction) == (1.0, 1.0)


def test_no_match_gives_none_accuracy_and_zero_matched_fraction():
    pred = flatten({"b.mp4": []})
    result = attribution_accuracy(pred, {"b.mp4": []}, [RECORDS[1]])
    assert result.accuracy is None and result.matched_fraction == 0.0


def test_sidecar_row_count_and_names_are_checked():
    pred = flatten({"b.mp4": [[0.5, 3.0, 4.0], [0.1, 0.0, 1.0]]})
    with pytest.raises(AvforgeError, match="2 proposals but 1 modality"):
        attribution_accuracy(pred, {"b.mp4": ["visual"]}, [RECORDS[1]])
    with pytest.raises(AvforgeError, match="unknown modality 'video'"):
        attribution_accuracy(pred, {"b.mp4": ["video", "audio"]}, [RECORDS[1]])


def test_evaluate_report_and_cli_carry_attribution(tmp_path, capsys):
    from avforge.cli.main import main

    pred = {"a.mp4": [[0.9, 1.0, 2.0], [0.8, 5.0, 6.0]], "b.mp4": [[0.5, 3.0, 4.0]], "c.mp4": []}
    modality = {"a.mp4": ["audio", "visual"], "b.mp4": ["visual"], "c.mp4": []}
    report = evaluate(pred, RECORDS, modality=modality)
    assert report.attribution.accuracy == pytest.approx(2 / 3)
    assert report.to_dict()["attribution"]["n_correct"] == 2
    assert metric_values(report)["attribution"] == pytest.approx(2 / 3)
    assert "attribution" in format_table(report)
    assert evaluate(pred, RECORDS).attribution is None
    paths = {name: tmp_path / f"{name}.json" for name in ("pred", "mod", "meta")}
    for name, data in zip(paths, (pred, modality, RECORDS)):
        paths[name].write_text(json.dumps(data))
    out = tmp_path / "metrics.json"
    code = main(["evaluate", "--pred", str(paths["pred"]), "--meta", str(paths["meta"]),
                 "--modality", str(paths["mod"]), "--out", str(out)])
    assert code == 0
    saved = json.loads(out.read_text())
    assert saved["metrics"]["attribution"] == pytest.approx(2 / 3)
    assert saved["metrics"]["attribution_matched"] == 1.0
    assert "attribution" in capsys.readouterr().out
