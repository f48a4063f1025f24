"""``avforge manifest``: writes a JSON-lines manifest; bad input is one line on stderr, exit 2."""
import json

import pytest

from avforge.cli.main import main


@pytest.fixture
def av1m_root(tmp_path):
    root = tmp_path / "av1m"
    root.mkdir()
    items = [
        {"file": "id1/y/1/real.mp4", "modify_type": "real", "fake_segments": [], "video_frames": 50},
        {"file": "id1/y/1/fake_video_fake_audio.mp4", "modify_type": "both-modified", "fake_segments": [[0.4, 0.8]],
         "video_frames": 50},
        {"file": "id1/y/1/real_video_fake_audio.mp4", "modify_type": "audio_modified",
         "fake_segments": [[1.0, 1.2]], "video_frames": 50},
    ]
    (root / "train_metadata.json").write_text(json.dumps(items))
    (root / "test_files.txt").write_text("id2/z/1/a.mp4\nid2/z/1/b.mp4\n")
    return root


def make_videos(root, split, files):
    for file in files:
        (root / split / file).parent.mkdir(parents=True, exist_ok=True)
        (root / split / file).write_bytes(b"")


def run_cli(capsys, *args):
    code = main(["manifest", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_manifest_and_summary(tmp_path, capsys, av1m_root):
    out_path = tmp_path / "out" / "train.jsonl"
    code, out, err = run_cli(capsys, "--dataset", "avdeepfake1m", "--root", av1m_root, "--split", "train",
                             "--out", out_path)
    assert code == 0 and err == ""
    assert "3 videos (1 real, 2 fake, 0 unlabelled)" in out
    rows = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert [r["modify_type"] for r in rows] == ["real", "both_modified", "audio_modified"]
    assert rows[1]["audio_fake_segments"] == rows[1]["visual_fake_segments"] == [[0.4, 0.8]]
    assert rows[2]["path"] == str(av1m_root / "train" / "id1/y/1/real_video_fake_audio.mp4")


def test_synthetic_layout_test_split_unlabelled(tmp_path, capsys, av1m_root):
    code, out, _ = run_cli(capsys, "--dataset", "synthetic", "--root", av1m_root, "--split", "test",
                           "--out", tmp_path / "t.jsonl")
    assert code == 0 and "2 videos (0 real, 0 fake, 2 unlabelled)" in out
    assert all(json.loads(line)["labelled"] is False for line in (tmp_path / "t.jsonl").read_text().splitlines())


def test_check_files_reports_missing_videos(tmp_path, capsys, av1m_root):
    make_videos(av1m_root, "train", ["id1/y/1/real.mp4"])
    out_path = tmp_path / "m.jsonl"
    code, out, err = run_cli(capsys, "--dataset", "avdeepfake1m", "--root", av1m_root, "--split", "train",
                             "--out", out_path, "--check-files")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "2 of 3 videos" in err and "fake_video_fake_audio.mp4" in err
    assert not out_path.exists()

    make_videos(av1m_root, "train", ["id1/y/1/fake_video_fake_audio.mp4", "id1/y/1/real_video_fake_audio.mp4"])
    code, _, err = run_cli(capsys, "--dataset", "avdeepfake1m", "--root", av1m_root, "--split", "train",
                           "--out", out_path, "--check-files")
    assert code == 0 and err == "" and len(out_path.read_text().splitlines()) == 3


def test_check_files_rejects_symlink_escape(tmp_path, capsys, av1m_root):
    outside = tmp_path / "outside"
    make_videos(outside, "z", ["1/a.mp4", "1/b.mp4"])
    (av1m_root / "test").mkdir()
    (av1m_root / "test" / "id2").symlink_to(outside)
    args = ["--dataset", "avdeepfake1m", "--root", av1m_root, "--split", "test", "--out", tmp_path / "m.jsonl"]
    code, _, err = run_cli(capsys, *args, "--check-files")
    assert code == 2 and err.count("\n") == 1 and "symbolic link" in err
    assert run_cli(capsys, *args)[0] == 0  # without the check, links are not followed


@pytest.mark.parametrize("setup, args, parts", [
    ("traversal", ["--dataset", "lavdf", "--split", "train"], ["metadata.json", "record 0", "../../etc/x.mp4"]),
    ("dot", ["--dataset", "lavdf", "--split", "train"], ["metadata.json", "record 0", "file entry '.'", "folder"]),
    ("lavdf", ["--dataset", "lavdf", "--split", "val"], ["'val'", "dev"]),
    ("none", ["--dataset", "lavdf", "--split", "train"], ["not found"]),
    ("lavdf", ["--dataset", "avdeepfake1m", "--split", "train"], ["train_metadata.json"]),
    ("broken", ["--dataset", "lavdf", "--split", "train"], ["metadata.json", "not valid JSON"]),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, setup, args, parts):
    root = tmp_path / "data"
    if setup != "none":
        root.mkdir()
        file = {"traversal": "../../etc/x.mp4", "dot": "."}.get(setup, "train/a.mp4")
        text = "[{" if setup == "broken" else json.dumps([{"file": file, "split": "train", "fake_periods": []}])
        (root / "metadata.json").write_text(text)
    code, out, err = run_cli(capsys, *args, "--root", root, "--out", tmp_path / "m.jsonl")
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("avforge manifest: error:")
    for part in parts:
        assert part in err, (part, err)
    assert not (tmp_path / "m.jsonl").exists()
