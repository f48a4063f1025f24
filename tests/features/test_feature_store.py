"""FeatureStore and the extraction loop: skip done, redo invalid, record failures, shards."""
import json

import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.data.manifest import read_manifest
from avforge.features.extract import Shard, VideoItem, extract
from avforge.features.registry import build_encoder
from avforge.features.spec import EncoderSpec
from avforge.features.store import FeatureStore, key_to_relpath
from features_clips import write_dataset


def identity(dim=3, size=4):
    return EncoderSpec("toy", "visual", dim, options={"size": size})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    manifest = write_dataset(root, 5)
    return [VideoItem(e.record.file, e.path) for e in read_manifest(manifest)]


def test_save_load_roundtrip_mirrors_the_key_folders(tmp_path):
    store = FeatureStore(tmp_path, identity())
    data = np.arange(12, dtype=np.float64).reshape(4, 3)
    path = store.save("train/id01/a.mp4", data)
    assert path == tmp_path / "train/id01/a.mp4.npy"
    feats = store.load("train/id01/a.mp4")
    assert feats.data.dtype == np.float32 and feats.data.tolist() == data.tolist()
    assert feats.fps == 25.0 and feats.encoder == "toy"
    assert store.files() == ["train/id01/a.mp4"] and store.has("train/id01/a.mp4")
    assert FeatureStore(tmp_path).load("train/id01/a.mp4").data.shape == (4, 3)  # read-only open


@pytest.mark.parametrize("key", ["../x.mp4", "/abs/x.mp4", "a/../../x.mp4", ""])
def test_unsafe_keys_are_refused(key):
    with pytest.raises(AvforgeError, match="unsafe file key"):
        key_to_relpath(key)


def test_truncated_or_wrong_dim_files_are_not_done(tmp_path):
    store = FeatureStore(tmp_path, identity(dim=3))
    store.save("a.mp4", np.ones((50, 3)))
    full = store.path_of("a.mp4").read_bytes()
    store.path_of("a.mp4").write_bytes(full[: len(full) - 7])
    assert not store.has("a.mp4")
    np.save(store.path_of("b.mp4"), np.ones((5, 4), dtype=np.float32))
    assert not store.has("b.mp4")
    with pytest.raises(AvforgeError, match="no valid features"):
        store.load("b.mp4")
    with pytest.raises(AvforgeError, match="store dim is 3"):
        store.save("c.mp4", np.ones((5, 4)))


def test_a_store_refuses_another_encoder_config(tmp_path):
    FeatureStore(tmp_path, identity(size=4))
    with pytest.raises(AvforgeError, match=r"options: \{'size': 4\} vs \{'size': 5\}, here vs now"):
        FeatureStore(tmp_path, identity(size=5))
    with pytest.raises(AvforgeError, match="no index.json"):
        FeatureStore(tmp_path / "empty")


def test_save_removes_the_temp_file_a_killed_run_left(tmp_path):
    store = FeatureStore(tmp_path, identity())
    (tmp_path / "d").mkdir()
    stale = tmp_path / "d" / ".v.mp4.npy.k3j2h1.npy"
    stale.write_bytes(b"half a file")
    assert store.files() == []
    store.save("d/v.mp4", np.zeros((2, 3)))
    assert not stale.exists() and store.files() == ["d/v.mp4"]


def test_shards_partition_the_sorted_list():
    items = [VideoItem(f"{i:02d}.mp4", None) for i in (5, 3, 9, 0, 7, 1, 2)]
    parts = [Shard.parse(f"{i}/3").take(items) for i in range(3)]
    assert [it.file for it in parts[0]] == ["00.mp4", "03.mp4", "09.mp4"]
    assert sorted(it.file for p in parts for it in p) == sorted(it.file for it in items)
    for bad in ("3/3", "1", "a/b"):
        with pytest.raises(AvforgeError, match="--shard"):
            Shard.parse(bad)


def test_extract_skips_done_redoes_invalid_and_records_failures(tmp_path, dataset):
    encoder = build_encoder("lip-light")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    items = dataset + [VideoItem("bad/broken.mp4", broken), VideoItem("bad/missing.mp4", tmp_path / "nope.mp4")]
    store = FeatureStore(tmp_path / "store", encoder.spec)

    first = extract(items, encoder, store, progress=False)
    assert (first.done, first.skipped, first.failed) == (5, 0, 2)
    assert store.files() == sorted(it.file for it in dataset)
    failures = store.failures()
    assert set(failures) == {"bad/broken.mp4", "bad/missing.mp4"}
    assert all(reason for reason in failures.values())
    rows = [json.loads(line) for line in (tmp_path / "store" / "failures.jsonl").read_text().splitlines()]
    assert [sorted(r) for r in rows] == [["file", "reason"]] * 2

    victim = store.path_of(dataset[2].file)
    good_bytes = victim.read_bytes()
    victim.write_bytes(good_bytes[:100])  # damaged: must be redone
    stamp = store.path_of(dataset[0].file).stat().st_mtime_ns
    second = extract(items, encoder, store, progress=False, batch_size=3)
    assert (second.done, second.skipped, second.failed) == (1, 4, 2)
    assert victim.read_bytes() == good_bytes
    assert store.path_of(dataset[0].file).stat().st_mtime_ns == stamp
    for item in dataset:
        frames = store.load(item.file).data.shape[0]
        assert frames == 4 + (7 * int(item.file[-7:-4])) % 23  # the clip's video frames
