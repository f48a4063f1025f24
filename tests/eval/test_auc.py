"""Task-1 detection AUC against hand computation."""
import json

import pytest

from avforge.core.errors import AvforgeError
from avforge.eval import auc, evaluate

META = [{"file": "f1.mp4", "fake_segments": [[0.1, 0.5]]}, {"file": "f2.mp4", "fake_segments": [[1, 2], [3, 4]]},
        {"file": "r1.mp4", "fake_segments": []}, {"file": "r2.mp4", "fake_segments": []}]


def write(tmp_path, lines):
    det, meta = tmp_path / "prediction.txt", tmp_path / "meta.json"
    det.write_text("".join(f"{line}\n" for line in lines))
    meta.write_text(json.dumps(META))
    return str(det), str(meta)


def test_auc_by_hand(tmp_path):
    # fake scores 0.9, 0.4; real 0.5, 0.1. Pairs (fake > real): 0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1 -> 3/4
    det, meta = write(tmp_path, ["f1.mp4;0.9", "f2.mp4;0.4", "r1.mp4;0.5", "r2.mp4;0.1", "extra.mp4;0.3"])
    assert auc(det, meta, "file", "fake_segments") == pytest.approx(0.75)


def test_ties_count_half(tmp_path):
    # pairs: 0.5 vs 0.5 tie (1/2), 0.5 > 0.1, 0.7 > 0.5, 0.7 > 0.1 -> 3.5 / 4
    det, meta = write(tmp_path, ["f1.mp4;0.5", "f2.mp4;0.7", "r1.mp4;0.5", "r2.mp4;0.1"])
    assert auc(det, meta, "file", "fake_segments") == pytest.approx(0.875)


def test_evaluate_reports_auc_next_to_localization(tmp_path):
    det, meta = write(tmp_path, ["f1.mp4;0.9", "f2.mp4;0.4", "r1.mp4;0.5", "r2.mp4;0.1"])
    pred = {m["file"]: [[0.5, 0.1, 0.5]] for m in META}
    report = evaluate(pred, meta, detection=det)
    assert report.auc == pytest.approx(0.75) and report.to_dict()["auc"] == pytest.approx(0.75)


@pytest.mark.parametrize("lines, problem", [
    (["f1.mp4;0.9", "f2.mp4;0.4", "r1.mp4;0.5"], "missing files .*r2.mp4"),
    (["f1.mp4;0.9", "f2.mp4;0.4", "r1.mp4;0.5", "r2.mp4;0.1", "r2.mp4;0.2"], "duplicate files: r2.mp4 .lines 4 and 5."),
    (["f1.mp4;0.9", "f2.mp4;abc", "r1.mp4;0.5", "r2.mp4;0.1"], "line 2 score abc .str 'abc' is not a number."),
    (["f1.mp4;0.9", "f2.mp4;nan", "r1.mp4;0.5", "r2.mp4;0.1"], "line 2 score nan .not finite."),
])
def test_bad_detection_files(tmp_path, lines, problem):
    det, meta = write(tmp_path, lines)
    with pytest.raises(AvforgeError, match=problem):
        auc(det, meta, "file", "fake_segments")


def test_detection_scores_read_from_json_and_mapping(tmp_path):
    from avforge.eval.detection import read_detection_scores

    path = tmp_path / "video_scores.json"
    path.write_text('{"a.mp4": 0.25, "b.mp4": 1}')
    assert read_detection_scores(path) == {"a.mp4": 0.25, "b.mp4": 1.0}
    assert read_detection_scores({"a.mp4": 0.5}) == {"a.mp4": 0.5}
    path.write_text('{"a.mp4": "high"}')
    with pytest.raises(AvforgeError, match="a.mp4 .str 'high' is not a number."):
        read_detection_scores(path)
