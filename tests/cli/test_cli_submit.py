"""``avforge submit`` and ``avforge validate-submission`` end to end, in-process and as a real process."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from avforge.cli.main import main

REPO = Path(__file__).resolve().parents[2]
TEST_FILES = ["000000.mp4", "000001.mp4", "000002.mp4"]


@pytest.fixture
def files_txt(tmp_path):
    path = tmp_path / "test_files.txt"
    path.write_text("\n".join(TEST_FILES) + "\n")
    return path


def write(path, text):
    path.write_text(text)
    return path


def run_cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_submit_writes_a_zip_that_validates(tmp_path, files_txt, capsys):
    raw = write(tmp_path / "raw.json", json.dumps({
        "000000.mp4": [[0.31234, 0.5, 1.257], [0.8, 2.0, 2.5]],
        "000001.mp4": [[0.9, 7.0, 9.0]],
    }))
    scores = write(tmp_path / "scores.txt", "000000.mp4;0.8\n000001.mp4;0.95\n000002.mp4;0.01\n")
    meta = write(tmp_path / "meta.json", json.dumps([{"file": "000001.mp4", "video_frames": 200}]))
    out = tmp_path / "up" / "submission.zip"
    rc, stdout, stderr = run_cli(capsys, "submit", "--proposals", raw, "--scores", scores, "--files", files_txt,
                                 "--durations", meta, "--out", out)
    assert rc == 0
    assert stdout.startswith(f"wrote {out}: prediction.json (3 videos, 4 proposals, 0 empty), "
                             "prediction.txt (3 scores)")
    assert "1 videos have no proposal and get one placeholder" in stderr  # 000002.mp4
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["prediction.json", "prediction.txt"]
        assert json.loads(zf.read("prediction.json")) == {
            "000000.mp4": [[0.8, 2.0, 2.5], [0.3123, 0.5, 1.26]],
            "000001.mp4": [[0.9, 7.0, 8.0]],  # 200 frames at 25 fps = 8 s
            "000002.mp4": [[0.0001, 0.0, 0.04]],
        }
    rc, stdout, stderr = run_cli(capsys, "validate-submission", out, "--files", files_txt)
    assert rc == 0 and stderr == ""
    assert stdout == f"OK {out}: prediction.json (3 videos, 4 proposals, 0 empty), prediction.txt (3 scores); 0.0 MB\n"


def test_submit_single_json_or_txt(tmp_path, files_txt, capsys):
    raw = write(tmp_path / "raw.json", json.dumps({"000000.mp4": [[0.5, 0, 1]]}))
    rc, _, stderr = run_cli(capsys, "submit", "--proposals", raw, "--files", files_txt, "--empty", "keep",
                            "--out", tmp_path / "prediction.json")
    assert rc == 0 and "2 videos have no proposal and are written as []" in stderr
    assert json.loads((tmp_path / "prediction.json").read_text())["000002.mp4"] == []
    scores = write(tmp_path / "s.json", json.dumps({f: 0.5 for f in TEST_FILES}))
    rc, _, _ = run_cli(capsys, "submit", "--scores", scores, "--files", files_txt, "--out", tmp_path / "p.txt")
    assert rc == 0 and (tmp_path / "p.txt").read_text().splitlines() == [f"{f};0.5" for f in TEST_FILES]


@pytest.mark.parametrize("name, argv_extra, message", [
    ("nan", ["--proposals", "nan.json"], "nan.json: not valid JSON"),  # NaN is no JSON token
    ("unknown", ["--proposals", "unknown.json"], "1 unknown files (not in the test list): 999.mp4"),
    ("dupkey", ["--proposals", "dup.json"], "1 duplicate keys: 000000.mp4"),
    ("scores-missing", ["--scores", "short.txt"], "2 missing files (expected but absent)"),
    ("no-input", [], "give --proposals and/or --scores"),
    ("unwritable", ["--proposals", "good.json", "--out", "blocker/sub.zip"], "cannot write here"),
])
def test_submit_failures_leave_no_output(tmp_path, files_txt, capsys, name, argv_extra, message):
    write(tmp_path / "nan.json", '{"000001.mp4": [[NaN, 0, 1]]}')
    write(tmp_path / "unknown.json", '{"999.mp4": [[0.5, 0, 1]]}')
    write(tmp_path / "dup.json", '{"000000.mp4": [], "000000.mp4": [[0.5, 0, 1]]}')
    write(tmp_path / "short.txt", "000000.mp4;0.5\n")
    write(tmp_path / "good.json", '{"000000.mp4": [[0.5, 0, 1]]}')
    write(tmp_path / "blocker", "a file where a folder should be")
    before = sorted(os.listdir(tmp_path))
    argv = [a if not a.endswith((".json", ".txt", ".zip")) else tmp_path / a for a in argv_extra]
    if "--out" not in argv:
        argv += ["--out", tmp_path / "out" / "sub.zip"]
    rc, stdout, stderr = run_cli(capsys, "submit", "--files", files_txt, *argv)
    assert rc == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("avforge submit: error: ")
    assert message in stderr
    assert sorted(os.listdir(tmp_path)) == before  # nothing written, no temp file left


BAD_SUBMISSIONS = {
    "missing": ("prediction.json", '{"000000.mp4": [[0.5, 0, 1]], "000001.mp4": [[0.5, 0, 1]]}',
                "1 missing files (expected but absent): 000002.mp4"),
    "nan": ("prediction.json", '{"000000.mp4": [[NaN, 0, 1]], "000001.mp4": [], "000002.mp4": []}',
            "not valid JSON (NaN/Infinity are not JSON numbers)"),
    "reversed": ("prediction.json", '{"000000.mp4": [[0.5, 3, 1]], "000001.mp4": [], "000002.mp4": []}',
                 "1 videos with start >= end: 000000.mp4"),
    "unknown": ("prediction.json", '{"000000.mp4": [], "000001.mp4": [], "000002.mp4": [], "x.mp4": []}',
                "1 unknown files (not expected): x.mp4"),
    "dup-json": ("prediction.json", '{"000000.mp4": [], "000001.mp4": [], "000002.mp4": [], "000001.mp4": []}',
                 "1 duplicate keys: 000001.mp4"),
    "dup-txt": ("prediction.txt", "000000.mp4;0.1\n000001.mp4;0.2\n000002.mp4;0.3\n000000.mp4;0.4\n",
                "1 duplicate files: 000000.mp4 (lines 1 and 4)"),
    "nan-txt": ("prediction.txt", "000000.mp4;0.1\n000001.mp4;nan\n000002.mp4;0.3\n",
                "1 bad lines: line 2 score nan (not finite)"),
    "member": ("preds.json", "{}", "1 members not allowed: preds.json"),
    "nested": ("sub/prediction.json", "{}", "1 members not allowed: sub/prediction.json"),
}


@pytest.mark.parametrize("case, zipped", [(c, True) for c in sorted(BAD_SUBMISSIONS)] +
                         [(c, False) for c, (m, _, _) in sorted(BAD_SUBMISSIONS.items()) if m.startswith("prediction")])
def test_bad_submissions_fail_with_one_line(tmp_path, files_txt, capsys, case, zipped):
    member, content, message = BAD_SUBMISSIONS[case]
    if zipped:
        path = tmp_path / "submission.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(member, content)
    else:
        path = write(tmp_path / member, content)
    rc, stdout, stderr = run_cli(capsys, "validate-submission", path, "--files", files_txt)
    assert rc == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1
    assert stderr.startswith("avforge validate-submission: error: ") and message in stderr


def test_real_process_exit_code(tmp_path, files_txt):
    path = tmp_path / "submission.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("preds.json", "{}")
    proc = subprocess.run([sys.executable, "-m", "avforge", "validate-submission", str(path), "--files",
                           str(files_txt)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "not allowed" in proc.stderr and "Traceback" not in proc.stderr


def test_validate_warns_about_empty_lists_and_order(tmp_path, files_txt, capsys):
    path = write(tmp_path / "prediction.json",
                 '{"000000.mp4": [[0.2, 0, 1], [0.9, 1, 2]], "000001.mp4": [], "000002.mp4": [[0.5, 0, 1]]}')
    rc, stdout, stderr = run_cli(capsys, "validate-submission", path, "--files", files_txt)
    assert rc == 0 and stdout.startswith("OK ")
    warnings = stderr.splitlines()
    assert len(warnings) == 2
    assert "1 videos with an empty list" in warnings[0] and "000001.mp4" in warnings[0]
    assert "1 videos not sorted by score" in warnings[1] and "000000.mp4" in warnings[1]
