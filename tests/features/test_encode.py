"""encode_video: the one path from a video to features, shared by extract and infer."""
import numpy as np
import pytest

from avforge.features import encode
from avforge.features.encode import ChunkConfig, encode_video
from avforge.features.extract import VideoItem, extract
from avforge.features.registry import build_encoder, build_from_spec
from avforge.features.store import FeatureStore
from avforge.io.media import read_av
from avforge.io.writer import write_video

CHUNK = ChunkConfig(chunk_s=1.0, overlap_s=0.4)  # 25-frame chunks, 10 shared: starts 0, 15, 30, ... frames
ENCODERS = {"lip-light": {"size": 4}, "logmel": {"n_mels": 8}, "lip-resnet": {"seed": 1}}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A short video (20 frames: one chunk) and a long one (70 frames: four chunks)."""
    root = tmp_path_factory.mktemp("enc")
    rng = np.random.default_rng(0)
    items = []
    for name, n in (("short.mp4", 20), ("long.mp4", 70)):
        t = np.arange(n * 640) / 16000
        wave = (0.3 * np.sin(2 * np.pi * 200 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
        frames = np.clip(rng.normal(120, 40, (n, 64, 64, 3)), 0, 255).astype(np.uint8)
        write_video(root / name, frames, wave)
        items.append(VideoItem(name, root / name))
    return items


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_extract_and_infer_give_the_same_features(videos, tmp_path, name):
    """extract stores what infer computes: bit-identical with one chunk per forward pass (same
    decoded pixels, same plan, same ops). Batching chunks of several videos (batch_size 2) pads
    them to one length: lip-resnet masks the padding but its convolutions and matmuls then run
    on other shapes, so float32 sums round differently: agreement to 1e-5 (measured ~1e-6)."""
    encoder = build_encoder(name, **ENCODERS[name])
    for batch_size in (1, 2):
        store = FeatureStore(tmp_path / f"b{batch_size}", encoder.spec)
        extract(videos, encoder, store, batch_size=batch_size, workers=0, progress=False, chunk=CHUNK)
        rebuilt = build_from_spec(store.spec)  # as infer rebuilds it from a checkpoint
        for item in videos:
            got = encode_video(item.path, {"x": rebuilt}, CHUNK).features["x"]
            if batch_size == 1 or name != "lip-resnet":
                np.testing.assert_array_equal(store.load(item.file).data, got)
            else:
                np.testing.assert_allclose(store.load(item.file).data, got, atol=1e-5, rtol=0)


def test_chunks_are_stitched_and_spilled_features_match(videos, tmp_path, monkeypatch):
    """Chunks start at 0, 15, 30, 45 frames; cuts at 20, 35, 50: every frame gets the features
    of the chunk it lies farthest inside; a memory-mapped result equals the one in RAM."""
    path = videos[1].path
    encoders = {"v": build_encoder("lip-light", size=4), "a": build_encoder("logmel", n_mels=8)}
    feats = encode_video(path, encoders, CHUNK).features
    assert feats["v"].shape == (70, 34) and feats["a"].shape == (70, 32)
    second_chunk = encoders["v"].encode(read_av(path, 0.6, 1.6))
    np.testing.assert_array_equal(feats["v"][20:35], second_chunk[5:20])
    whole = encoders["v"].encode(read_av(path))
    assert np.abs(feats["v"][20:35] - whole[20:35]).max() > 1e-3  # per-chunk normalisation is visible
    np.testing.assert_array_equal(encode_video(path, encoders).features["v"], whole)  # one 60-s chunk
    monkeypatch.setattr(encode, "FEATURES_IN_RAM_BYTES", 0)
    spilled = encode_video(path, encoders, CHUNK, spill_dir=tmp_path).features
    assert isinstance(spilled["v"], np.memmap)
    for key in feats:
        np.testing.assert_array_equal(np.asarray(spilled[key]), feats[key])


def test_chunks_shrink_for_large_frames():
    """60 s of 1080p RGB frames would take 9.3 GB: with 1 GiB per chunk they get 172 frames."""
    cfg = ChunkConfig(chunk_s=60.0, overlap_s=4.0)
    assert cfg.for_frame_size(224, 224) == cfg  # 225 MB: unchanged
    hd = cfg.for_frame_size(1920, 1080)
    assert hd.chunk_s == pytest.approx(172 / 25) and hd.overlap_s == pytest.approx(172 / 25 / 4)
    assert ChunkConfig(max_chunk_mb=1.0).for_frame_size(1920, 1080).chunk_s == 1.0  # never below 1 s
