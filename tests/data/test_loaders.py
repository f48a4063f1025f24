"""LAV-DF and AV-Deepfake1M(++) loaders on small hand-written metadata in the real layouts."""
import json

import pytest

from avforge.core.errors import AvforgeError
from avforge.core.types import ModifyType
from avforge.data import detect_layout, load_avdeepfake1m, load_dataset, load_lavdf


def lavdf_item(file, split, periods=(), audio=False, visual=False, **more):
    item = {"file": file, "n_fakes": len(periods), "fake_periods": [list(p) for p in periods],
            "duration": 6.4, "original": None if not periods else "train/000000.mp4", "modify_video": visual,
            "modify_audio": audio, "split": split, "video_frames": 160, "audio_channels": 1,
            "audio_frames": 102400, "timestamps": [["hello", 0.0, 0.4]], "transcript": "hello"}
    item.update(more)
    return item


def av1m_item(file, modify_type, segments=(), audio=None, visual=None, **more):
    """A record as in ``{split}_metadata.json``; ``audio``/``visual`` None = list omitted."""
    item = {"file": file, "original": None if modify_type == "real" else file.rsplit("/", 1)[0] + "/real.mp4",
            "split": "train", "modify_type": modify_type, "audio_model": "yourtts" if audio else "",
            "fake_segments": [list(s) for s in segments], "video_frames": 100, "audio_frames": 64000}
    if audio is not None:
        item["audio_fake_segments"] = [list(s) for s in audio]
    if visual is not None:
        item["visual_fake_segments"] = [list(s) for s in visual]
    item.update(more)
    return item


def write(path, obj):
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


@pytest.fixture
def lavdf_root(tmp_path):
    root = tmp_path / "lavdf"
    root.mkdir()
    write(root / "metadata.json", [
        lavdf_item("train/000000.mp4", "train"),
        lavdf_item("train/000001.mp4", "train", [(1.2, 1.6)], audio=True),
        lavdf_item("dev/000002.mp4", "dev", [(0.5, 0.9), (3.0, 3.24)], audio=True, visual=True),
        lavdf_item("test/000003.mp4", "test", [(2.0, 2.5)], visual=True, speaker="id00007"),
    ])
    return root


def assert_one_line_error(excinfo, *parts):
    text = str(excinfo.value)
    assert "\n" not in text
    for part in parts:
        assert part in text, (part, text)


# ---------------------------------------------------------------- LAV-DF

def test_lavdf_splits_and_modalities(lavdf_root):
    assert [r.file for r in load_lavdf(lavdf_root)] == ["train/000000.mp4", "train/000001.mp4",
                                                       "dev/000002.mp4", "test/000003.mp4"]
    train = load_lavdf(lavdf_root, "train")
    assert [r.modify_type for r in train] == [ModifyType.REAL, ModifyType.AUDIO]
    real, audio = train
    assert (real.fake_segments, real.audio_fake_segments, real.visual_fake_segments) == ((), (), ())
    assert audio.audio_fake_segments == ((1.2, 1.6),) and audio.visual_fake_segments == ()

    (dev,) = load_lavdf(lavdf_root, "dev")
    assert dev.split == "dev" and dev.modify_type is ModifyType.BOTH
    assert dev.audio_fake_segments == dev.visual_fake_segments == dev.fake_segments == ((0.5, 0.9), (3.0, 3.24))
    assert dev.duration_s == 6.4 and dev.original == "train/000000.mp4" and dev.labelled

    (test,) = load_lavdf(lavdf_root, "test")
    assert test.modify_type is ModifyType.VISUAL and test.audio_fake_segments == ()
    assert "timestamps" not in test.extra and "transcript" not in test.extra
    assert test.speaker == "id00007" and dev.speaker is None


def test_lavdf_prefers_min_metadata(tmp_path):
    write(tmp_path / "metadata.json", [lavdf_item("train/a.mp4", "train"), lavdf_item("train/b.mp4", "train")])
    write(tmp_path / "metadata.min.json", [lavdf_item("train/a.mp4", "train")])
    assert [r.file for r in load_lavdf(tmp_path, "train")] == ["train/a.mp4"]


def test_lavdf_duration_falls_back_to_video_frames(tmp_path):
    item = lavdf_item("test/a.mp4", "test", video_frames=50)
    del item["duration"]
    write(tmp_path / "metadata.json", [item])
    assert load_lavdf(tmp_path)[0].duration_s == pytest.approx(2.0)


def test_lavdf_rejects_unknown_split(lavdf_root):
    with pytest.raises(AvforgeError) as excinfo:
        load_lavdf(lavdf_root, "val")
    assert_one_line_error(excinfo, "'val'", "dev")


@pytest.mark.parametrize("bad", ["../x.mp4", "/etc/passwd", "a/../../b.mp4", "C:\\videos\\a.mp4", "..\\a.mp4", "",
                                 ".", "./", "train/", "train/.", "train\\"])
def test_lavdf_rejects_paths_outside_the_root(tmp_path, bad):
    write(tmp_path / "metadata.json", [lavdf_item("train/ok.mp4", "train"), lavdf_item(bad, "train")])
    with pytest.raises(AvforgeError) as excinfo:
        load_lavdf(tmp_path)
    assert_one_line_error(excinfo, "metadata.json", "record 1")


def test_lavdf_dotted_names_are_fine(tmp_path):
    write(tmp_path / "metadata.json", [lavdf_item("train/a..b.mp4", "train"), lavdf_item("./train/c.mp4", "train")])
    assert len(load_lavdf(tmp_path)) == 2


@pytest.mark.parametrize("content, parts", [
    ("{not json", ["not valid JSON"]),
    ({"file": "a.mp4"}, ["expected a JSON list", "dict"]),
    ([lavdf_item("train/a.mp4", "train"), {"split": "train"}], ["record 1", "'file'"]),
    ([lavdf_item("train/a.mp4", "train", [(1.0,)], audio=True)], ["record 0", "fake_periods", "pair"]),
    ([lavdf_item("train/a.mp4", "train", [(2.0, 1.0)], audio=True)], ["record 0", "start < end"]),
    ([lavdf_item("train/a.mp4", "train", [(1.0, 1.0)], audio=True)], ["record 0", "start < end"]),
    ([lavdf_item("train/a.mp4", "train", [("1", 2.0)], audio=True)], ["record 0", "numbers"]),
    ([lavdf_item("train/a.mp4", "train", [(1.0, 2.0)])], ["record 0", "neither"]),
    ([lavdf_item("train/a.mp4", "training")], ["record 0", "'split'"]),
    ([lavdf_item("train/a.mp4", "train", modify_audio="yes")], ["record 0", "modify_audio"]),
    (["train/a.mp4"], ["record 0", "JSON object"]),
    ([lavdf_item("train/a.mp4", "train"), lavdf_item("train/a.mp4", "train")], ["listed twice"]),
])
def test_lavdf_malformed_metadata(tmp_path, content, parts):
    write(tmp_path / "metadata.json", content)
    with pytest.raises(AvforgeError) as excinfo:
        load_lavdf(tmp_path)
    assert_one_line_error(excinfo, "metadata.json", *parts)


def test_lavdf_missing_metadata(tmp_path):
    with pytest.raises(AvforgeError) as excinfo:
        load_lavdf(tmp_path)
    assert_one_line_error(excinfo, str(tmp_path), "metadata.json")
    with pytest.raises(AvforgeError, match="not found"):
        load_lavdf(tmp_path / "absent")


# ---------------------------------------------------------------- AV-Deepfake1M

@pytest.fixture
def av1m_root(tmp_path):
    root, clip = tmp_path / "av1m", "id00001/yt1/00001"
    root.mkdir()
    write(root / "train_metadata.json", [
        av1m_item(f"{clip}/real.mp4", "real", audio=[], visual=[]),
        av1m_item(f"{clip}/fake_video_real_audio.mp4", "visual_modified", [(1.0, 1.4)], audio=[],
                  visual=[(1.0, 1.4)]),
        av1m_item(f"{clip}/real_video_fake_audio.mp4", "audio_modified", [(0.2, 0.6)], audio=[(0.2, 0.6)],
                  visual=[]),
        av1m_item(f"{clip}/fake_video_fake_audio.mp4", "both_modified", [(2.0, 2.3), (3.0, 3.5)],
                  audio=[(2.0, 2.3), (3.0, 3.5)], visual=[(2.0, 2.3), (3.0, 3.5)], video_model="latentsync"),
        # hyphen spelling with no per-modality lists: both modalities still count as fake
        av1m_item("id00002/yt2/00001/fake_video_fake_audio.mp4", "both-modified", [(0.4, 0.8)]),
        # per-modality lists differ: audio forged on a wider span than the lips
        av1m_item("id00002/yt2/00002/fake_video_fake_audio.mp4", "both_modified", [(1.0, 2.0)],
                  audio=[(1.0, 2.0)], visual=[(1.2, 1.8)]),
    ])
    write(root / "val_metadata.json", [av1m_item("id00003/yt3/00001/real.mp4", "real", split="val",
                                                 speaker="id00003")])
    write(root / "test_files.txt", "id00004/a/00001/x.mp4\n\nid00004/a/00002/y.mp4\n")
    return root


def test_av1m_train_modify_types_and_segments(av1m_root):
    records = load_avdeepfake1m(av1m_root, "train")
    assert [r.modify_type for r in records] == [ModifyType.REAL, ModifyType.VISUAL, ModifyType.AUDIO,
                                                ModifyType.BOTH, ModifyType.BOTH, ModifyType.BOTH]
    real, visual, audio, both, hyphen, mixed = records
    assert not real.is_fake and real.original is None
    assert visual.visual_fake_segments == ((1.0, 1.4),) and visual.audio_fake_segments == ()
    assert audio.audio_fake_segments == ((0.2, 0.6),) and audio.visual_fake_segments == ()
    assert both.audio_fake_segments == both.visual_fake_segments == ((2.0, 2.3), (3.0, 3.5))
    assert hyphen.audio_fake_segments == hyphen.visual_fake_segments == ((0.4, 0.8),)
    assert hyphen.modify_type.audio_fake and hyphen.modify_type.visual_fake
    assert mixed.audio_fake_segments == ((1.0, 2.0),) and mixed.visual_fake_segments == ((1.2, 1.8),)
    assert both.duration_s == pytest.approx(4.0)  # 100 frames at 25 fps
    assert all(r.split == "train" and r.labelled for r in records)
    assert both.extra == {"video_dir": "train", "audio_model": "yourtts", "video_model": "latentsync"}
    assert visual.extra == {"video_dir": "train"}
    assert audio.extra == {"video_dir": "train", "audio_model": "yourtts"}


def test_av1m_missing_modality_lists_follow_modify_type(tmp_path):
    write(tmp_path / "train_metadata.json", [av1m_item("a/real_video_fake_audio.mp4", "audio_modified", [(1.0, 1.5)]),
                                             av1m_item("a/fake_video_real_audio.mp4", "visual-modified", [(2.0, 2.5)])])
    audio, visual = load_avdeepfake1m(tmp_path, "train")
    assert (audio.audio_fake_segments, audio.visual_fake_segments) == (((1.0, 1.5),), ())
    assert (visual.audio_fake_segments, visual.visual_fake_segments) == ((), ((2.0, 2.5),))


def test_av1m_val_split(av1m_root):
    (record,) = load_avdeepfake1m(av1m_root, "val")
    assert record.split == "val" and record.modify_type is ModifyType.REAL and record.extra["video_dir"] == "val"
    assert record.speaker == "id00003"


def test_av1m_test_split_from_file_list_is_unlabelled(av1m_root):
    records = load_avdeepfake1m(av1m_root, "test")
    assert [r.file for r in records] == ["id00004/a/00001/x.mp4", "id00004/a/00002/y.mp4"]
    assert all(not r.labelled and r.fake_segments == () and r.split == "test" for r in records)
    assert records[0].extra == {"video_dir": "test"}


def test_av1m_hidden_test_metadata_is_labelled(av1m_root):
    write(av1m_root / "test_metadata.json", [av1m_item("id00004/a/00001/x.mp4", "audio_modified", [(0.1, 0.3)])])
    (record,) = load_avdeepfake1m(av1m_root, "test")
    assert record.labelled and record.split == "test" and record.audio_fake_segments == ((0.1, 0.3),)


def test_av1m_plusplus_test_splits(av1m_root):
    write(av1m_root / "testB_files.txt", "b/1.mp4\n")
    (record,) = load_avdeepfake1m(av1m_root, "testB")
    assert record.split == "testB" and not record.labelled and record.extra["video_dir"] == "testB"
    with pytest.raises(AvforgeError) as excinfo:
        load_avdeepfake1m(av1m_root, "testA")
    assert_one_line_error(excinfo, "testA_metadata.json", "testA_files.txt")


@pytest.mark.parametrize("bad", ["../x.mp4", "/etc/passwd", "a/../../b.mp4", ".", "a/"])
def test_av1m_rejects_paths_outside_the_root(av1m_root, bad):
    write(av1m_root / "val_metadata.json", [av1m_item(bad, "real")])
    with pytest.raises(AvforgeError) as excinfo:
        load_avdeepfake1m(av1m_root, "val")
    assert_one_line_error(excinfo, "val_metadata.json", "record 0", bad)
    write(av1m_root / "test_files.txt", f"ok/1.mp4\n{bad}\n")
    with pytest.raises(AvforgeError) as excinfo:
        load_avdeepfake1m(av1m_root, "test")
    assert_one_line_error(excinfo, "test_files.txt", "line 2", bad)


@pytest.mark.parametrize("item, parts", [
    (av1m_item("a/real.mp4", "real", [(1.0, 2.0)]), ["'real'", "fake_segments"]),
    (av1m_item("a/f.mp4", "half_modified", [(1.0, 2.0)]), ["half_modified"]),
    ({"file": "a/f.mp4"}, ["modify_type"]),
    (av1m_item("a/f.mp4", "audio_modified", [(1.0, 2.0)], audio=[[1.0, 2.0, 3.0]]), ["audio_fake_segments", "pair"]),
    (av1m_item("a/f.mp4", "visual_modified", [(1.0, 2.0)], visual=[[-1.0, 2.0]]), ["visual_fake_segments"]),
    (av1m_item("a/f.mp4", "visual_modified", [(1.0, 2.0)], video_frames="100"), ["video_frames"]),
    (av1m_item("a/f.mp4", "visual_modified", [(1.0, 2.0)], audio_model=["x"]), ["audio_model"]),
])
def test_av1m_malformed_records(tmp_path, item, parts):
    write(tmp_path / "train_metadata.json", [av1m_item("a/ok.mp4", "real"), item])
    with pytest.raises(AvforgeError) as excinfo:
        load_avdeepfake1m(tmp_path, "train")
    assert_one_line_error(excinfo, "train_metadata.json", "record 1", *parts)


def test_av1m_duplicate_test_file_is_an_error(av1m_root):
    write(av1m_root / "test_files.txt", "a/1.mp4\nb/1.mp4\na/1.mp4\n")
    with pytest.raises(AvforgeError) as excinfo:
        load_avdeepfake1m(av1m_root, "test")
    assert_one_line_error(excinfo, "test_files.txt", "'a/1.mp4'", "listed twice")


def test_av1m_bad_split_and_missing_files(tmp_path):
    with pytest.raises(AvforgeError, match="'dev'"):
        load_avdeepfake1m(tmp_path, "dev")
    with pytest.raises(AvforgeError) as excinfo:
        load_avdeepfake1m(tmp_path, "train")
    assert_one_line_error(excinfo, "train_metadata.json")


# ---------------------------------------------------------------- dispatcher

def test_load_dataset_detects_the_synthetic_layout(lavdf_root, av1m_root):
    assert detect_layout(lavdf_root) == "lavdf" and detect_layout(av1m_root) == "avdeepfake1m"
    assert [r.file for r in load_dataset("synthetic", lavdf_root, "dev")] == ["dev/000002.mp4"]
    assert len(load_dataset("synthetic", av1m_root, "test")) == 2
    assert len(load_dataset("avdeepfake1m", av1m_root, "train")) == 6


def test_load_dataset_errors(tmp_path, av1m_root):
    with pytest.raises(AvforgeError, match="unknown dataset"):
        load_dataset("kinetics", tmp_path, "train")
    with pytest.raises(AvforgeError, match="neither"):
        load_dataset("synthetic", tmp_path, "train")
    with pytest.raises(AvforgeError, match="needs a split"):
        load_dataset("avdeepfake1m", av1m_root, None)
