"""Challenge submissions: formatting rules with hand-computed expectations, writing, reading, checking."""
import json
import math
import zipfile

import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.core.types import Proposals
from avforge.eval import submission as sm
from avforge.eval.submission import PLACEHOLDER, make_submission, write_submission
from avforge.eval.reader import parse_json, parse_score_lines
from avforge.eval.submission_io import read_durations, read_file_list, read_submission, validate_submission

FILES = ["a.mp4", "b.mp4", "c.mp4"]


def rows(sub, f):
    return sub.localization[f].tolist()


# ---------------------------------------------------------------- formatting

def test_sorted_rounded_clipped_dropped_and_capped():
    raw = {"a.mp4": [[0.5, 1.234, 2.236],       # -> 0.5, 1.23, 2.24 (then capped away: 4th best)
                     [0.91284, -0.3, 1.0],      # -> 0.9128, start clipped to 0
                     [0.00004, 1.0, 2.0],       # score rounds to 0 -> dropped
                     [0.7, 9.99, 10.5],         # end clipped to the 10 s duration
                     [0.6, 1.001, 1.004],       # 1.00-1.00 after rounding -> empty, dropped
                     [0.91286, 3.0, 4.0]],      # -> 0.9129, best
           "b.mp4": [[0.3, 7.0, 7.8]]}          # duration 7.3599 s: clipped on the grid to 7.35
    sub = make_submission(raw, files=["a.mp4", "b.mp4"], durations={"a.mp4": 10.0, "b.mp4": 7.3599},
                          max_per_video=3)
    assert rows(sub, "a.mp4") == [[0.9129, 3.0, 4.0], [0.9128, 0.0, 1.0], [0.7, 9.99, 10.0]]
    assert rows(sub, "b.mp4") == [[0.3, 7.0, 7.35]]
    assert sub.notes == ["dropped 1 proposals with score <= 0 after rounding and 1 empty after "
                         "rounding/clipping; capped 1 videos at 3"]
    assert sub.warnings == []


def test_the_cap_counts_only_kept_rows_and_ties_keep_input_order():
    raw = {"a.mp4": [[0.4, 1, 2], [-0.1, 0, 1], [0.4, 3, 4], [0.9, 5, 5], [0.2, 6, 7]]}
    sub = make_submission(raw, files=["a.mp4"], max_per_video=3)
    assert rows(sub, "a.mp4") == [[0.4, 1, 2], [0.4, 3, 4], [0.2, 6, 7]]


def test_proposals_records_are_accepted_and_no_duration_means_no_end_clip():
    raw = {"a.mp4": Proposals.from_rows([[0.2, 0.5, 99.123], [0.8, 1.0, 2.0]])}
    sub = make_submission(raw, files=["a.mp4"])
    assert rows(sub, "a.mp4") == [[0.8, 1.0, 2.0], [0.2, 0.5, 99.12]]


def test_videos_without_proposals_get_a_placeholder_or_an_empty_list():
    raw = {"a.mp4": [[0.5, 0, 1]], "b.mp4": [[0.0, 0, 1]]}  # b: all dropped; c: absent
    sub = make_submission(raw, files=FILES, durations={"c.mp4": 0.03})
    assert rows(sub, "b.mp4") == [list(PLACEHOLDER)]
    assert rows(sub, "c.mp4") == [[PLACEHOLDER[0], 0.0, 0.03]]  # never past the video's end
    assert "2 videos have no proposal and get one placeholder" in " ".join(sub.warnings)

    kept = make_submission(raw, files=FILES, empty="keep")
    assert rows(kept, "b.mp4") == [] and rows(kept, "c.mp4") == []
    assert any("2 videos have no proposal and are written as []" in w for w in kept.warnings)


@pytest.mark.parametrize("raw, message", [
    ({"a.mp4": [[math.nan, 0, 1]]}, "1 videos with NaN/inf values: a.mp4"),
    ({"a.mp4": [[0.5, 0, math.inf]]}, "1 videos with NaN/inf values: a.mp4"),
    ({"a.mp4": [[0.5, 2, 1]]}, "1 videos with reversed segments (start > end): a.mp4"),
    ({"x.mp4": [[0.5, 0, 1]]}, "1 unknown files (not in the test list): x.mp4"),
    ({"a.mp4": [[0.5, 0]]}, "malformed"),
])
def test_bad_raw_proposals_are_one_line_errors(raw, message):
    with pytest.raises(AvforgeError, match=None) as err:
        make_submission(raw, files=FILES)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_detection_scores_need_every_file_and_probabilities():
    sub = make_submission(scores={"a.mp4": 0.91284567, "b.mp4": 1, "c.mp4": 0.0}, files=FILES)
    assert sub.detection == {"a.mp4": 0.912846, "b.mp4": 1.0, "c.mp4": 0.0}
    assert sm.detection_bytes(sub.detection) == b"a.mp4;0.912846\nb.mp4;1\nc.mp4;0\n"
    with pytest.raises(AvforgeError, match="1 missing files .*: c.mp4"):
        make_submission(scores={"a.mp4": 0.1, "b.mp4": 0.2}, files=FILES)
    with pytest.raises(AvforgeError, match=r"2 scores that are not probabilities in \[0, 1\]: b.mp4 \(1.5 is not a probability in \[0, 1\]\), c.mp4 \(not finite\)"):
        make_submission(scores={"a.mp4": 0.1, "b.mp4": 1.5, "c.mp4": math.nan}, files=FILES)


# ---------------------------------------------------------------- writing

def small_submission():
    return make_submission({"a.mp4": [[0.9, 1.0, 2.0]], "b.mp4": [[0.5, 0.0, 0.5], [0.7, 1.0, 1.5]]},
                           {"a.mp4": 0.9128, "b.mp4": 0.25}, files=["a.mp4", "b.mp4"])


def test_zip_holds_exactly_the_two_members(tmp_path):
    report = write_submission(small_submission(), tmp_path / "sub.zip")
    with zipfile.ZipFile(tmp_path / "sub.zip") as zf:
        assert sorted(zf.namelist()) == ["prediction.json", "prediction.txt"]
        assert json.loads(zf.read("prediction.json")) == {"a.mp4": [[0.9, 1.0, 2.0]],
                                                          "b.mp4": [[0.7, 1.0, 1.5], [0.5, 0.0, 0.5]]}
        assert zf.read("prediction.txt") == b"a.mp4;0.9128\nb.mp4;0.25\n"
    assert (report.n_videos, report.n_proposals, report.n_empty, report.n_scores) == (2, 3, 0, 2)
    assert report.size_bytes == (tmp_path / "sub.zip").stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["sub.zip"]


def test_json_and_txt_outputs_directly(tmp_path):
    write_submission(small_submission(), tmp_path / "prediction.json")
    write_submission(small_submission(), tmp_path / "prediction.txt")
    assert json.loads((tmp_path / "prediction.json").read_text())["b.mp4"][0] == [0.7, 1.0, 1.5]
    assert (tmp_path / "prediction.txt").read_text() == "a.mp4;0.9128\nb.mp4;0.25\n"
    only_scores = make_submission(scores={"a.mp4": 0.5}, files=["a.mp4"])
    with pytest.raises(AvforgeError, match="a .json output needs localization proposals"):
        write_submission(only_scores, tmp_path / "p.json")
    with pytest.raises(AvforgeError, match="must end in .zip, .json or .txt"):
        write_submission(only_scores, tmp_path / "p.csv")


@pytest.mark.parametrize("limit_extra", [0, 120])  # 0: stopped before writing; 120: by the size after
def test_size_limit_leaves_the_previous_file_untouched(tmp_path, monkeypatch, limit_extra):
    out = tmp_path / "sub.zip"
    out.write_bytes(b"old")
    sub = small_submission()
    raw_size = len(sm.localization_bytes(sub.localization)) + len(sm.detection_bytes(sub.detection))
    monkeypatch.setattr(sm, "MAX_BYTES", raw_size + limit_extra)  # the zip's headers push it over
    with pytest.raises(AvforgeError, match="over the 4 GB limit"):
        write_submission(sub, out)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["sub.zip"]


def test_unwritable_destination_is_an_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AvforgeError, match="cannot write here"):
        write_submission(small_submission(), tmp_path / "file" / "sub.zip")


# ---------------------------------------------------------------- reading and checking

def test_duplicate_json_key_is_named():
    with pytest.raises(AvforgeError, match="src: 1 duplicate keys: a.mp4"):
        parse_json(b'{"a.mp4": [[0.5, 0, 1]], "b.mp4": [], "a.mp4": []}', "src")


def test_txt_errors_carry_line_numbers():
    text = "a.mp4;0.5\n\nfile;score\nb.mp4;0.2;x\nc.mp4;1.2\nd.mp4;inf\na.mp4;0.6\n"
    with pytest.raises(AvforgeError) as err:
        parse_score_lines(text, "p.txt")
    msg = str(err.value)
    assert msg.startswith("p.txt: 4 bad lines: line 3 score score (str 'score' is not a number)")
    for part in ("line 4 b.mp4;0.2;x is not 'file;score'", "line 5 score 1.2 (1.2 is not a probability", "line 6 score inf (not finite)",
                 "1 duplicate files: a.mp4 (lines 1 and 7)"):
        assert part in msg
    assert parse_score_lines("a.mp4; 0.25\r\nb.mp4;1e-3\r\n", "p.txt") == {"a.mp4": 0.25, "b.mp4": 0.001}


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("members", [
    {"preds.json": "{}"},
    {"sub/prediction.json": "{}"},
    {"prediction.json": "{}", "notes.md": "hi"},
    {},
])
def test_zip_members_must_be_exactly_the_allowed_names(tmp_path, members):
    path = write_zip(tmp_path / "s.zip", members)
    with pytest.raises(AvforgeError, match="the zip must hold exactly prediction.json and/or prediction.txt"):
        read_submission(path)


@pytest.mark.parametrize("content, message", [
    ('{"a.mp4": [[0.5, 0, 1]]}', "1 missing files (expected but absent): b.mp4"),
    ('{"a.mp4": [[0.5, 0, 1]], "b.mp4": [], "z.mp4": []}', "1 unknown files (not expected): z.mp4"),
    ('{"a.mp4": [[NaN, 0, 1]], "b.mp4": []}', "not valid JSON (NaN/Infinity are not JSON numbers)"),
    ('{"a.mp4": [[0.5, 2, 1]], "b.mp4": []}', "1 videos with start >= end: a.mp4"),
    ('{"a.mp4": [], "b.mp4": [], "a.mp4": []}', "1 duplicate keys: a.mp4"),
    ('[["a.mp4", []]]', "top level must be an object"),
    ('{"a.mp4": [[0.5, 0, 1]', "not valid JSON"),
])
def test_bad_localization_files(tmp_path, content, message):
    path = tmp_path / "prediction.json"
    path.write_text(content)
    with pytest.raises(AvforgeError) as err:
        validate_submission(path, ["a.mp4", "b.mp4"])
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(AvforgeError, match="s.zip:prediction.json: "):  # zipped: named by member
        validate_submission(write_zip(tmp_path / "s.zip", {"prediction.json": content}), ["a.mp4", "b.mp4"])


def test_validate_reports_counts_and_warnings(tmp_path):
    path = tmp_path / "prediction.json"
    path.write_text(json.dumps({"a.mp4": [[0.2, 0, 1], [0.5, 1, 2]], "b.mp4": []}))
    report = validate_submission(path, ["a.mp4", "b.mp4"])
    assert (report.n_videos, report.n_proposals, report.n_empty) == (2, 2, 1)
    assert len(report.warnings) == 2
    assert report.warnings[0].startswith("1 videos with an empty list") and "b.mp4" in report.warnings[0]
    assert report.warnings[1].startswith("1 videos not sorted by score") and "a.mp4" in report.warnings[1]
    assert validate_submission(path).warnings[0] == "no test file list given: completeness not checked"


def test_detection_file_must_cover_the_test_list(tmp_path):
    path = tmp_path / "prediction.txt"
    path.write_text("a.mp4;0.5\nz.mp4;0.1\n")
    with pytest.raises(AvforgeError, match="1 missing files .*: b.mp4; 1 unknown files .*: z.mp4"):
        validate_submission(path, ["a.mp4", "b.mp4"])


# ---------------------------------------------------------------- inputs

def test_durations_from_each_metadata_shape(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps([{"file": "a.mp4", "video_frames": 184}, {"file": "b.mp4", "duration": 3.2},
                                {"file": "c.mp4", "duration_s": 1.5}, {"file": "d.mp4"}]))
    assert read_durations(path) == {"a.mp4": 7.36, "b.mp4": 3.2, "c.mp4": 1.5}
    path.write_text(json.dumps({"a.mp4": 2}))
    assert read_durations(path) == {"a.mp4": 2.0}


def test_file_list_from_text_or_metadata(tmp_path):
    (tmp_path / "t.txt").write_text("000000.mp4\n000001.mp4\n\n")
    assert read_file_list(tmp_path / "t.txt") == ["000000.mp4", "000001.mp4"]
    (tmp_path / "m.json").write_text(json.dumps([{"file": "x.mp4"}, {"file": "y.mp4"}]))
    assert read_file_list(tmp_path / "m.json") == ["x.mp4", "y.mp4"]
    (tmp_path / "d.txt").write_text("a.mp4\na.mp4\n")
    with pytest.raises(AvforgeError, match="1 files listed twice: a.mp4"):
        read_file_list(tmp_path / "d.txt")


def test_round_trip_write_then_read(tmp_path):
    sub = small_submission()
    write_submission(sub, tmp_path / "sub.zip")
    back = read_submission(tmp_path / "sub.zip")
    assert back.detection == sub.detection
    assert back.localization.files == list(sub.localization)
    assert back.localization.rows.tolist() == np.concatenate(list(sub.localization.values())).tolist()


def test_formatting_in_bounded_chunks_gives_the_same_submission(monkeypatch):
    """Proposals are formatted a bounded number at a time (memory at 34 M proposals); chunk edges
    change nothing: same rows, notes and errors as one pass."""
    rng = np.random.default_rng(0)
    files = [f"{i:03d}.mp4" for i in range(40)]
    raw = {}
    for f, k in zip(files[:-3], rng.integers(0, 15, 37)):
        start = rng.uniform(0, 5, k)
        raw[f] = np.round(np.c_[rng.uniform(-0.1, 1, k), start, start + rng.uniform(0.001, 2, k)], 3)
    durations = {f: 4.0 for f in files[::2]}
    whole = make_submission(raw, files=files, durations=durations, max_per_video=6)
    monkeypatch.setattr(sm, "CHUNK_ROWS", 7)
    chunked = make_submission(raw, files=files, durations=durations, max_per_video=6)
    assert whole.localization.keys() == chunked.localization.keys()
    assert all(np.array_equal(whole.localization[f], chunked.localization[f]) for f in files)
    assert whole.notes == chunked.notes and whole.warnings == chunked.warnings
    raw[files[30]][2, 1] = np.nan
    raw[files[3]][0, 1] = np.inf
    with pytest.raises(AvforgeError, match=r"2 videos with NaN/inf values: 003.mp4, 030.mp4"):
        make_submission(raw, files=files)
