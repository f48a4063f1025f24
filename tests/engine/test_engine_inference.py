"""Sliding-window inference with the real Detector; raw-output cache round trip."""
from pathlib import Path

import numpy as np
import pytest
import torch

from avforge.core.types import Proposals
from avforge.engine.config import ExperimentConfig, InferConfig
from avforge.engine.inference import Predictor, predict_features
from avforge.engine.rawcache import RawOutput, load_raw, raw_path, save_raw
from avforge.models.config import DetectorConfig
from avforge.models.detector import build_detector


@pytest.fixture(scope="module")
def predictor():
    """Default pyramid (strides 1..8, receptive field ~90 frames each way); random weights
    with a wide spread so that every input frame visibly moves its neighbours' outputs."""
    torch.manual_seed(0)
    cfg = ExperimentConfig(model=DetectorConfig(dim=32, attn_heads=4))
    model = build_detector(cfg.model, 6, 5).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return Predictor(model, cfg, Path("none"), 0, {}, torch.device("cpu"))


@pytest.fixture(scope="module")
def long_clip():
    rng = np.random.default_rng(0)
    return rng.normal(size=(700, 6)).astype(np.float32), rng.normal(size=(700, 5)).astype(np.float32)


def test_sliding_windows_equal_whole_clip_everywhere(predictor, long_clip):
    """700 frames = 28 s: one whole-clip window vs windows of 320 frames overlapping by 192
    (each kept frame >= 96 frames from a cut; the receptive field reaches ~90). Guarantee: equal
    to 1e-5 on every frame, for fused, audio and visual probabilities."""
    visual, audio = long_clip
    whole = predict_features(predictor, "long.mp4", visual, audio, InferConfig(window_s=28.0, overlap_s=0.0))
    windowed = predict_features(predictor, "long.mp4", visual, audio,
                                InferConfig(window_s=320 / 25, overlap_s=192 / 25, batch_windows=2))
    for key in ("fused", "audio", "visual"):
        assert whole.frame_probs[key].shape == (700,)
        np.testing.assert_allclose(windowed.frame_probs[key], whole.frame_probs[key], atol=1e-5, rtol=0)
    assert windowed.duration_s == whole.duration_s == 28.0
    assert np.all((windowed.proposals.starts_s >= 0) & (windowed.proposals.ends_s <= 28.0))
    assert np.all(np.diff(windowed.proposals.scores) <= 0)


def test_too_small_an_overlap_is_visible(predictor, long_clip):
    """The same comparison with overlap 32 frames (margin 16 < receptive field) must differ:
    the equality above is not an accident of a model that ignores its context."""
    visual, audio = long_clip
    whole = predict_features(predictor, "long.mp4", visual, audio, InferConfig(window_s=28.0, overlap_s=0.0))
    windowed = predict_features(predictor, "long.mp4", visual, audio, InferConfig(window_s=256 / 25, overlap_s=32 / 25))
    assert np.abs(windowed.frame_probs["fused"] - whole.frame_probs["fused"]).max() > 1e-4


def test_raw_output_round_trip_without_pickle(tmp_path):
    raw = RawOutput(file="sub/dir/a.mp4",
                    frame_probs={k: np.linspace(0, 1, 7, dtype=np.float32) * i for i, k in
                                 enumerate(("fused", "audio", "visual"), 1)},
                    proposals=Proposals(np.array([0.9, 0.2]), np.array([0.04, 1.0]), np.array([0.2, 1.5]),
                                        ("visual", "both")),
                    video_score=0.75, duration_s=0.28)
    path = save_raw(tmp_path, raw)
    assert path == raw_path(tmp_path, "sub/dir/a.mp4") == tmp_path / "videos/sub/dir/a.mp4.safetensors"
    assert not path.read_bytes().startswith(b"\x80")
    back = load_raw(tmp_path, "sub/dir/a.mp4")
    assert back.file == raw.file and back.video_score == 0.75 and back.duration_s == 0.28
    for k in raw.frame_probs:
        assert np.array_equal(back.frame_probs[k], raw.frame_probs[k])
    assert back.proposals.to_rows() == raw.proposals.to_rows()
    assert back.proposals.modality == ("visual", "both")
