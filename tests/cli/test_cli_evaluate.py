"""``avforge evaluate``: hand-computed metrics, protocol/split labels, units, and the submit round trip."""
import json

import pytest

from avforge.cli.main import main
from avforge.eval import evaluate

# a: one segment, matched by its best proposal (IoU 1/1.04); b: real; c: two segments, IoU 0.98 and 0.5/0.6.
METADATA = [
    {"file": "a.mp4", "split": "val", "modify_type": "visual_modified", "fake_segments": [[1.0, 2.0]],
     "video_frames": 100},
    {"file": "b.mp4", "split": "val", "modify_type": "real", "fake_segments": [], "video_frames": 100},
    {"file": "c.mp4", "split": "val", "modify_type": "audio_modified", "fake_segments": [[0.5, 1.5], [3.0, 3.5]],
     "video_frames": 125},
]
PROPOSALS = {"a.mp4": [[0.9, 1.0, 2.04], [0.3, 0.0, 4.0]], "b.mp4": [[0.6, 1.0, 2.0]],
             "c.mp4": [[0.8, 0.52, 1.5], [0.7, 3.0, 3.6]]}


@pytest.fixture
def data(tmp_path):
    (tmp_path / "val_metadata.json").write_text(json.dumps(METADATA))
    (tmp_path / "pred.json").write_text(json.dumps(PROPOSALS))
    (tmp_path / "det.txt").write_text("a.mp4;0.9\nb.mp4;0.2\nc.mp4;0.7\n")
    (tmp_path / "files.txt").write_text("a.mp4\nb.mp4\nc.mp4\n")
    return tmp_path


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_table_and_json_with_hand_computed_values(data, capsys):
    rc, out, err = run_cli(capsys, "evaluate", "--pred", data / "pred.json", "--meta", data / "val_metadata.json",
                           "--detection", data / "det.txt", "--out", data / "m" / "metrics.json")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "avdeepfake1m protocol, split val, subset full"
    assert "  3 videos (2 fake, 3 segments), 5 proposals" in lines
    assert "  AP@0.50  0.6667" in lines and "  AP@0.90  0.3333" in lines and "  AR@5     0.9000" in lines
    assert "  score    0.7000" in lines and "  AUC      1.0000" in lines
    saved = json.loads((data / "m" / "metrics.json").read_text())
    assert (saved["protocol"], saved["split"], saved["subset"]) == ("avdeepfake1m", "val", "full")
    # ranks by score: TP, TP, TP at IoU .5/.75 only, FP, FP over 3 segments; the first recall step is not counted
    expected = {"AP@0.50": 2 / 3, "AP@0.75": 2 / 3, "AP@0.90": 1 / 3, "AP@0.95": 1 / 3,
                # recalled at 10 + 10 + 7 (IoU 0.833 > .50 ... .80) of 30 (segment, threshold) pairs
                "AR@50": 0.9, "AR@30": 0.9, "AR@20": 0.9, "AR@10": 0.9, "AR@5": 0.9,
                "score": 0.5 * 0.5 + 0.5 * 0.9, "AUC": 1.0}
    assert saved["metrics"] == pytest.approx(expected, abs=1e-6)
    assert saved["inputs"]["metadata"] == str(data / "val_metadata.json")


def test_lavdf_frames_and_seconds_give_the_same_numbers(data, capsys):
    frames = {f: [[s, a * 25, b * 25] for s, a, b in rows] for f, rows in PROPOSALS.items()}
    (data / "frames.json").write_text(json.dumps(frames))
    common = ["--meta", data / "val_metadata.json", "--protocol", "lavdf", "--subset", "subset"]
    rc1, seconds_out, _ = run_cli(capsys, "evaluate", "--pred", data / "pred.json", *common, "--out", data / "s.json")
    rc2, frames_out, _ = run_cli(capsys, "evaluate", "--pred", data / "frames.json", "--frames", *common,
                                 "--out", data / "f.json")
    assert rc1 == rc2 == 0
    s, f = (json.loads((data / n).read_text()) for n in ("s.json", "f.json"))
    assert s["metrics"] == f["metrics"]
    assert (s["protocol"], s["subset"]) == ("lavdf", "subset")
    assert "1 audio-only-modified videos left out" in s["notes"]  # c.mp4
    assert "proposal times read as seconds and converted" in s["notes"]
    assert not any("converted" in n for n in f["notes"])  # frame indices are the lavdf protocol's own unit
    assert s["n_videos"] == 2 and s["metrics"]["AR@100"] == pytest.approx(1.0)  # a's segment, IoU 0.96
    assert "lavdf protocol, split val, subset subset" in seconds_out


def test_split_is_chosen_and_named(data, capsys):
    records = METADATA + [{"file": "t.mp4", "split": "test", "fake_segments": [[0.0, 1.0]]}]
    (data / "metadata.json").write_text(json.dumps(records))
    rc, out, err = run_cli(capsys, "evaluate", "--pred", data / "pred.json", "--meta", data / "metadata.json")
    assert rc == 2 and "records of several splits (test, val): choose one with --split" in err
    rc, out, err = run_cli(capsys, "evaluate", "--pred", data / "pred.json", "--meta", data / "metadata.json",
                           "--split", "val")
    assert rc == 0 and out.startswith("avdeepfake1m protocol, split val, subset full")
    nameless = [{k: v for k, v in r.items() if k != "split"} for r in METADATA]
    (data / "testA_metadata.json").write_text(json.dumps(nameless))
    rc, out, _ = run_cli(capsys, "evaluate", "--pred", data / "pred.json", "--meta", data / "testA_metadata.json")
    assert rc == 0 and out.startswith("avdeepfake1m protocol, split testA, subset full")


def test_bad_predictions_fail_in_one_line_without_output(data, capsys):
    (data / "bad.json").write_text(json.dumps({"a.mp4": [[0.9, 2.0, 1.0]], "b.mp4": []}))
    rc, out, err = run_cli(capsys, "evaluate", "--pred", data / "bad.json", "--meta", data / "val_metadata.json",
                           "--out", data / "metrics.json")
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "1 missing files (expected but absent): c.mp4" in err and "1 videos with start >= end: a.mp4" in err
    assert not (data / "metrics.json").exists()


@pytest.mark.parametrize("protocol", ["avdeepfake1m", "activitynet", "lavdf"])
@pytest.mark.parametrize("change, problem", [
    ({"fake_segments": [[2.0, 1.0]]}, "1 videos with start >= end: a.mp4"),
    ({"fake_segments": [[1.0, "x"]]}, "1 videos with malformed rows (each must be [start, end]): a.mp4"),
    ({"fake_segments": None}, "1 records without 'file' and 'fake_segments' (by index): 1"),
])
def test_bad_metadata_errors_name_the_metadata_file(data, capsys, protocol, change, problem):
    records = [dict(METADATA[0], **change), METADATA[1], METADATA[2]]
    if change["fake_segments"] is None:  # the first record decides the key (LAV-DF's fake_periods absent)
        records[:2] = METADATA[0], {k: v for k, v in METADATA[1].items() if k != "fake_segments"}
    (data / "val_metadata.json").write_text(json.dumps(records))
    rc, out, err = run_cli(capsys, "evaluate", "--pred", data / "pred.json", "--meta", data / "val_metadata.json",
                           "--protocol", protocol)
    assert rc == 2 and out == ""
    assert err.strip() == f"avforge evaluate: error: {data / 'val_metadata.json'}: {problem}"


def test_submit_validate_evaluate_round_trip(data, capsys):
    # already sorted, on the rounding grid and inside the videos: formatting must change nothing
    rc, _, _ = run_cli(capsys, "submit", "--proposals", data / "pred.json", "--scores", data / "det.txt",
                       "--files", data / "files.txt", "--durations", data / "val_metadata.json",
                       "--out", data / "submission.zip")
    assert rc == 0
    rc, out, _ = run_cli(capsys, "validate-submission", data / "submission.zip", "--files", data / "files.txt")
    assert rc == 0 and out.startswith(f"OK {data / 'submission.zip'}: prediction.json (3 videos, 5 proposals")
    rc, _, _ = run_cli(capsys, "evaluate", "--pred", data / "submission.zip", "--meta", data / "val_metadata.json",
                       "--out", data / "metrics.json")
    assert rc == 0
    saved = json.loads((data / "metrics.json").read_text())
    direct = evaluate(PROPOSALS, METADATA, "avdeepfake1m")
    assert saved["ap"] == {str(k): v for k, v in direct.ap.items()}
    assert saved["ar"] == {str(k): v for k, v in direct.ar.items()}
    assert saved["score"] == direct.score


def test_frame_indices_without_frames_are_refused_in_one_line(data, capsys):
    # LAV-DF-style output (frame indices) read as seconds ends far beyond the 4-5 s videos
    frames = {f: [[s, a * 25, b * 25] for s, a, b in rows] for f, rows in PROPOSALS.items()}
    (data / "frames.json").write_text(json.dumps(frames))
    for protocol in ("lavdf", "avdeepfake1m", "ummaformer"):
        rc, out, err = run_cli(capsys, "evaluate", "--pred", data / "frames.json", "--meta", data / "val_metadata.json",
                               "--protocol", protocol, "--out", data / "metrics.json")
        assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert f"{data / 'frames.json'}: proposal times look like frame indices" in err
        assert "3 of 3 videos" in err and "pass --frames" in err
    assert not (data / "metrics.json").exists()
    # seconds claimed to be frame indices: refused the other way round
    rc, out, err = run_cli(capsys, "evaluate", "--pred", data / "pred.json", "--meta", data / "val_metadata.json",
                           "--protocol", "lavdf", "--frames")
    assert rc == 2 and "look like seconds, not frame indices" in err and "drop --frames" in err


def test_an_all_zero_table_says_to_check_the_unit(data, capsys):
    missed = {"a.mp4": [[0.9, 3.0, 3.5]], "b.mp4": [], "c.mp4": [[0.5, 2.0, 2.5]]}
    (data / "missed.json").write_text(json.dumps(missed))
    rc, out, _ = run_cli(capsys, "evaluate", "--pred", data / "missed.json", "--meta", data / "val_metadata.json")
    assert rc == 0 and "AP@0.50  0.0000" in out
    assert "note: every AP and AR is 0: are the proposal times frame indices? (pass --frames)" in out


def test_activitynet_variants_name_their_reference(data, capsys):
    for protocol, reference in (("activitynet", "ActionFormer's ANETdetection"), ("ummaformer", "UMMAFormer paper")):
        rc, out, _ = run_cli(capsys, "evaluate", "--pred", data / "pred.json", "--meta", data / "val_metadata.json",
                             "--protocol", protocol, "--out", data / f"{protocol}.json")
        saved = json.loads((data / f"{protocol}.json").read_text())
        assert rc == 0 and f"  reproduces: {saved['reproduces']}" in out.splitlines() and reference in saved["reproduces"]
    # by score: a 0.9 (IoU 0.96), c 0.8 (0.98), c 0.7 (0.5/0.6 = 0.83) are hits, b 0.6 and a 0.3 misses
    # -> AP@0.5 = 1; AR@100 keeps every proposal (budget 100 * 2 fake videos / 5 proposals): 10 + 10 + 7 of 30
    assert saved["metrics"]["AP@0.50"] == 1.0
    assert saved["metrics"]["AR@100"] == pytest.approx((10 + 10 + 7) / 30)
