"""FeatureStore and the extraction loop: skip done, redo invalid, record failures, shards."""
import errno
import json
import subprocess
import sys

import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.core.fileio import TEMP_TAG, _host
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


def test_save_removes_temps_of_killed_runs_but_not_of_a_running_one(tmp_path):
    """Two extract runs on one store: neither deletes the other's in-flight temp file."""
    store = FeatureStore(tmp_path, identity())
    (tmp_path / "d").mkdir()
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / "d" / f".v.mp4.npy{TEMP_TAG}{killed.pid}-{_host()}-k3j2h1.npy"
        live = tmp_path / "d" / f".w.mp4.npy{TEMP_TAG}{running.pid}-{_host()}-a8b7c6.npy"
        for tmp in (stale, live):
            tmp.write_bytes(b"half a file")
        assert store.files() == []
        store.save("d/v.mp4", np.zeros((2, 3)))
        store.save("d/w.mp4", np.zeros((2, 3)))
        assert not stale.exists() and live.exists() and store.files() == ["d/v.mp4", "d/w.mp4"]
    finally:
        running.kill()
        running.wait()


def test_a_write_error_stops_extract_instead_of_counting_a_failed_video(tmp_path, dataset, monkeypatch):
    encoder = build_encoder("lip-light")
    store = FeatureStore(tmp_path / "store", encoder.spec)

    def disk_full(file, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "save", disk_full)
    with pytest.raises(AvforgeError, match=r"store: cannot write features of .* \(No space left on device\)"):
        extract(dataset, encoder, store, progress=False, workers=0)
    assert store.failures() == {}  # not blamed on the video


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


# ---------------------------------------------------------------------------- float16 and packed stores

def pack_files(root):
    return sorted(p.name for p in (root / "packs").iterdir())


def test_float16_packed_store_roundtrip_reads_float32(tmp_path):
    store = FeatureStore(tmp_path, identity(dim=3), dtype="float16", layout="packed")
    rng = np.random.default_rng(0)
    data = {f"train/{i:03d}.mp4": rng.standard_normal((5 + i, 3)) for i in range(50)}
    for key, arr in data.items():
        store.save(key, arr)
    assert json.loads((tmp_path / "index.json").read_text())["storage"] == {"dtype": "float16", "layout": "packed"}
    reopened = FeatureStore(tmp_path)  # read-only open sees the writer's entries
    assert reopened.files() == sorted(data) and reopened.missing(["train/007.mp4", "x.mp4"]) == ["x.mp4"]
    for key, arr in data.items():
        loaded = reopened.load(key).data
        assert loaded.dtype == np.float32 and np.array_equal(loaded, arr.astype(np.float16).astype(np.float32))
    assert len(pack_files(tmp_path)) == 2  # one .bin + one .idx for 50 videos
    bin_bytes = next((tmp_path / "packs").glob("*.bin")).stat().st_size
    assert bin_bytes == sum(a.size for a in data.values()) * 2  # two bytes a number


def test_a_store_refuses_another_storage(tmp_path):
    FeatureStore(tmp_path, identity(), dtype="float16", layout="packed")
    assert FeatureStore(tmp_path, identity()).dtype == np.float16  # unspecified: the store's own
    with pytest.raises(AvforgeError, match="another storage \\(dtype float16 here vs float32 now\\)"):
        FeatureStore(tmp_path, identity(), dtype="float32")
    with pytest.raises(AvforgeError, match="layout packed here vs files now"):
        FeatureStore(tmp_path, identity(), layout="files")
    with pytest.raises(AvforgeError, match="storage must be"):
        FeatureStore(tmp_path / "new", identity(), dtype="int8")


def test_packed_store_ignores_what_a_killed_writer_left(tmp_path):
    store = FeatureStore(tmp_path, identity(dim=2), layout="packed")
    for i in range(3):
        store.save(f"{i}.mp4", np.full((4, 2), i))
    store.packs.close()
    data, idx = sorted((tmp_path / "packs").iterdir())
    with open(data, "ab") as f:  # killed after writing the bytes of a 4th entry, mid-way through its line
        f.write(np.ones((4, 2), np.float32).tobytes())
    with open(idx, "ab") as f:
        f.write(b'{"file": "3.mp4", "offset": 96, "nb')
    resumed = FeatureStore(tmp_path, identity(dim=2))
    assert resumed.files() == ["0.mp4", "1.mp4", "2.mp4"] and not resumed.has("3.mp4")
    resumed.save("3.mp4", np.full((4, 2), 3))
    assert len(pack_files(tmp_path)) == 4  # the resumed writer never appends to the killed one's files
    again = FeatureStore(tmp_path)
    assert [int(again.load(f"{i}.mp4").data[0, 0]) for i in range(4)] == [0, 1, 2, 3]

    with open(data, "r+b") as f:  # a truncated copy: the entries past the end are not done
        f.truncate(60)
    truncated = FeatureStore(tmp_path)
    assert truncated.files() == ["0.mp4", "3.mp4"] and not truncated.has("2.mp4")


def test_packed_store_names_damaged_bytes(tmp_path):
    store = FeatureStore(tmp_path, identity(dim=2), layout="packed")
    store.save("a.mp4", np.zeros((4, 2)))
    store.packs.close()
    data = next((tmp_path / "packs").glob("*.bin"))
    data.write_bytes(b"\x01" + data.read_bytes()[1:])
    with pytest.raises(AvforgeError, match=r"\.bin: features of 'a.mp4' are damaged \(size or CRC mismatch\)"):
        FeatureStore(tmp_path).load("a.mp4")


def test_concurrent_writers_of_a_packed_store_keep_their_own_packs(tmp_path):
    shards = [FeatureStore(tmp_path, identity(dim=2), layout="packed") for _ in range(2)]
    for i in range(10):
        shards[i % 2].save(f"{i:02d}.mp4", np.full((3, 2), i))
    assert len(pack_files(tmp_path)) == 4
    reader = FeatureStore(tmp_path)
    assert [int(reader.load(f).data[0, 0]) for f in reader.files()] == list(range(10))


def test_extract_into_a_packed_float16_store_skips_done_and_records_failures(tmp_path, dataset):
    encoder = build_encoder("lip-light")
    items = dataset + [VideoItem("bad/missing.mp4", tmp_path / "nope.mp4")]
    store = FeatureStore(tmp_path / "store", encoder.spec, dtype="float16", layout="packed")
    first = extract(items, encoder, store, progress=False, batch_size=2)
    assert (first.done, first.skipped, first.failed) == (5, 0, 1)
    assert set(store.failures()) == {"bad/missing.mp4"}
    second = extract(items, encoder, FeatureStore(tmp_path / "store", encoder.spec), progress=False)
    assert (second.done, second.skipped, second.failed) == (0, 5, 1)
    reference = FeatureStore(tmp_path / "ref", encoder.spec)
    extract(dataset, encoder, reference, progress=False)
    for item in dataset:  # float16 storage: within half a float16 ulp of the float32 features
        a, b = FeatureStore(tmp_path / "store").load(item.file).data, reference.load(item.file).data
        assert a.shape == b.shape and np.allclose(a, b, rtol=2 ** -11, atol=1e-7)
