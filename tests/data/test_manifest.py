"""Manifests (JSON lines) and the path-safety rule of ``resolve_video``."""
import json
from pathlib import Path

import pytest

from avforge.core.errors import AvforgeError
from avforge.core.types import ModifyType, VideoRecord
from avforge.data import load_avdeepfake1m, load_lavdf, read_manifest, resolve_video, write_manifest


@pytest.fixture
def lavdf_root(tmp_path):
    root = tmp_path / "lavdf"
    root.mkdir()
    (root / "metadata.json").write_text(json.dumps([
        {"file": "dev/000001.mp4", "split": "dev", "fake_periods": [[0.5, 0.9]], "modify_audio": True,
         "modify_video": True, "duration": 5.2, "original": "dev/000000.mp4"},
        {"file": "dev/000000.mp4", "split": "dev", "fake_periods": [], "modify_audio": False,
         "modify_video": False, "duration": 5.0, "original": None},
    ]))
    return root


@pytest.fixture
def av1m_root(tmp_path):
    root = tmp_path / "av1m"
    root.mkdir()
    (root / "val_metadata.json").write_text(json.dumps([
        {"file": "id1/y/1/fake_video_fake_audio.mp4", "modify_type": "both_modified", "fake_segments": [[1.0, 1.5]],
         "audio_fake_segments": [[1.0, 1.5]], "visual_fake_segments": [[1.0, 1.5]], "original": "id1/y/1/real.mp4",
         "audio_model": "vits", "video_frames": 75, "audio_frames": 48000, "split": "val"},
    ]))
    (root / "test_files.txt").write_text("id2/z/1/x.mp4\n")
    return root


def test_round_trip_keeps_records_and_resolves_paths(tmp_path, lavdf_root, av1m_root):
    for root, records, expected_paths in [
        (lavdf_root, load_lavdf(lavdf_root, "dev"), ["dev/000001.mp4", "dev/000000.mp4"]),
        (av1m_root, load_avdeepfake1m(av1m_root, "val"), ["val/id1/y/1/fake_video_fake_audio.mp4"]),
        (av1m_root, load_avdeepfake1m(av1m_root, "test"), ["test/id2/z/1/x.mp4"]),
    ]:
        out = tmp_path / "out" / "m.jsonl"
        assert write_manifest(out, records, root) == len(records)
        entries = read_manifest(out)
        assert [e.record for e in entries] == records
        assert [e.record.extra for e in entries] == [r.extra for r in records]  # extra is compare=False
        assert [e.path for e in entries] == [root / p for p in expected_paths]
        assert all(e.path.is_absolute() for e in entries)


def test_manifest_line_is_record_dict_plus_path(tmp_path, av1m_root):
    (record,) = load_avdeepfake1m(av1m_root, "val")
    out = tmp_path / "m.jsonl"
    write_manifest(out, [record], av1m_root)
    lines = out.read_text().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row.pop("path") == str(av1m_root / "val" / record.file)
    assert row == record.to_dict()
    assert row["modify_type"] == "both_modified" and row["audio_fake_segments"] == [[1.0, 1.5]]


def test_read_manifest_accepts_relative_paths(tmp_path):
    record = VideoRecord(file="a.mp4", split="test", modify_type="real", labelled=False)
    (tmp_path / "m.jsonl").write_text(json.dumps({**record.to_dict(), "path": "videos/a.mp4"}) + "\n\n")
    (entry,) = read_manifest(tmp_path / "m.jsonl")
    assert entry.path == tmp_path / "videos" / "a.mp4" and entry.record == record


@pytest.mark.parametrize("second_line, part", [
    ("{broken", "line 2"),
    ("[1, 2]", "JSON object"),
    (json.dumps({"file": "b.mp4", "split": "dev"}), "'path'"),
    (json.dumps({"file": "b.mp4", "split": "dev", "path": "/v/b.mp4", "colour": "red"}), "colour"),
    (json.dumps({"split": "dev", "path": "/v/b.mp4"}), "file"),
    (json.dumps({"file": "b.mp4", "split": "dev", "path": "/v/b.mp4", "modify_type": "odd"}), "odd"),
])
def test_read_manifest_errors_name_file_and_line(tmp_path, second_line, part):
    good = json.dumps({"file": "a.mp4", "split": "dev", "modify_type": "real", "path": "/v/a.mp4"})
    (tmp_path / "m.jsonl").write_text(good + "\n" + second_line + "\n")
    with pytest.raises(AvforgeError) as excinfo:
        read_manifest(tmp_path / "m.jsonl")
    text = str(excinfo.value)
    assert "\n" not in text and "m.jsonl" in text and "line 2" in text and part in text


def test_read_manifest_missing_file(tmp_path):
    with pytest.raises(AvforgeError, match="not found"):
        read_manifest(tmp_path / "absent.jsonl")


def test_write_manifest_is_atomic(tmp_path, lavdf_root):
    out = tmp_path / "m.jsonl"
    out.write_text("previous\n")
    records = load_lavdf(lavdf_root) + [VideoRecord(file="../escape.mp4", split="dev", modify_type="real")]
    with pytest.raises(AvforgeError, match="escape.mp4"):
        write_manifest(out, records, lavdf_root)
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lavdf", "m.jsonl"]  # no temp file left


@pytest.mark.parametrize("bad", ["../x.mp4", "/etc/passwd", "a/../../b.mp4", "a\\..\\..\\b.mp4", "", "a\x00.mp4",
                                 ".", "a/."])
def test_resolve_video_rejects_escapes(tmp_path, bad):
    with pytest.raises(AvforgeError) as excinfo:
        resolve_video(tmp_path, bad, source=tmp_path / "meta.json")
    assert "meta.json" in str(excinfo.value) and repr(bad) in str(excinfo.value)


def test_resolve_video_inside_root(tmp_path, monkeypatch):
    assert resolve_video(tmp_path, "train/a.mp4") == tmp_path / "train" / "a.mp4"
    monkeypatch.chdir(tmp_path)
    assert resolve_video(".", "a..b/c.mp4") == Path.cwd() / "a..b" / "c.mp4"


def test_resolve_video_symlink_escape_only_when_following_links(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "v.mp4").write_bytes(b"x")
    (root / "link").symlink_to(outside)
    assert resolve_video(root, "link/v.mp4") == root / "link" / "v.mp4"
    with pytest.raises(AvforgeError, match="symbolic link"):
        resolve_video(root, "link/v.mp4", follow_links=True)


def test_read_manifest_shares_equal_extras(tmp_path):
    records = [VideoRecord(file=f"{i}.mp4", split="test", modify_type="real", extra=dict(extra))
               for i, extra in enumerate([{"video_dir": "test"}, {"video_dir": "test"}, {"video_dir": "test", "n": 1}])]
    write_manifest(tmp_path / "m.jsonl", records, tmp_path)
    a, b, c = (e.record for e in read_manifest(tmp_path / "m.jsonl"))
    assert a.extra is b.extra and a.extra == {"video_dir": "test"}
    assert c.extra == {"video_dir": "test", "n": 1}
    assert a.modify_type is ModifyType.REAL
