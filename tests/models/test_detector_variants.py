"""Every fusion x boundary-head variant builds, runs forward/backward, decodes to absolute seconds."""
import numpy as np
import pytest
import torch

from avforge.core.types import MODALITIES
from avforge.core.config import from_dict
from avforge.core.errors import AvforgeError
from avforge.models import BOUNDARY_HEADS, FUSIONS, DetectorConfig, build_detector
from planted_features import AUDIO_DIM, VISUAL_DIM, PlantedGenerator

TINY = dict(dim=16, attn_heads=2, encoder_layers=1, head_layers=1, bm_max_duration_frames=12, bm_dim=8)
# The boundary-matching head reads the finest pyramid level only: alone, it leaves the norms of the
# coarser levels (there for the anchor-free head) without gradient. Every other parameter gets one.
NO_GRADIENT_WITH_BM_ALONE = {f"fusion.norms.{level}.{w}" for level in (1, 2, 3) for w in ("weight", "bias")}


def parameters_without_gradient(model):
    return {n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())}


def tiny_batch(n_frames=40):
    batch = PlantedGenerator(seed=3).batch(2, n_frames, max_segments=2)
    batch.mask[1, n_frames - 7:] = False
    batch.offset_s = torch.tensor([0.0, 12.0], dtype=torch.float64)
    return batch


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("head", BOUNDARY_HEADS)
def test_forward_backward_decode(fusion, head):
    torch.manual_seed(0)
    model = build_detector(DetectorConfig(fusion=fusion, boundary_head=head, **TINY), VISUAL_DIM, AUDIO_DIM)
    batch = tiny_batch()
    out = model(batch)
    assert out.frame_logits.shape == out.audio_logits.shape == out.visual_logits.shape == (2, 40)
    assert out.video_logits.shape == (2,)
    assert (out.cls_logits is not None) == (head in ("anchor_free", "both"))
    assert (out.bm_logits is not None) == (head in ("bm", "both"))
    if out.cls_logits is not None:
        n_points = 40 + 20 + 10 + 5
        assert out.cls_logits.shape == (2, n_points) and out.reg_frames.shape == (2, n_points, 2)
        assert out.attr_logits.shape == (2, n_points, 3)
        assert bool((out.reg_frames >= 0).all())
    if out.bm_logits is not None:
        assert out.bm_logits.shape == (2, 12, 40)
    terms = model.loss(out, batch)
    assert torch.isfinite(terms["total"])
    assert torch.allclose(terms["total"], sum(v for k, v in terms.items() if k != "total"))
    terms["total"].backward()
    assert parameters_without_gradient(model) == (NO_GRADIENT_WITH_BM_ALONE if head == "bm" else set())
    unused_stream = {"audio_only": "visual", "visual_only": "audio"}.get(fusion)
    if unused_stream:
        assert getattr(model, f"{unused_stream}_encoder") is None

    proposals = model.decode(out, batch, topk=30)
    assert len(proposals) == 2
    for p, offset, n_valid in zip(proposals, (0.0, 12.0), (40, 33)):
        assert 0 < len(p) <= 30
        assert np.all(np.diff(p.scores) <= 0)
        assert np.all(p.starts_s >= offset - 1e-9) and np.all(p.ends_s <= offset + n_valid / 25 + 1e-9)
        assert np.all(p.ends_s > p.starts_s)
        assert set(p.modality) <= set(MODALITIES) and len(p.modality) == len(p)


def test_unused_stream_is_ignored():
    """audio_only never looks at visual features: changing them changes nothing."""
    torch.manual_seed(0)
    model = build_detector(DetectorConfig(fusion="audio_only", **TINY), VISUAL_DIM, AUDIO_DIM).eval()
    batch = tiny_batch()
    a = model(batch)
    batch.visual = torch.randn_like(batch.visual)
    b = model(batch)
    assert torch.equal(a.frame_logits, b.frame_logits) and torch.equal(a.cls_logits, b.cls_logits)


def test_wrong_feature_dim_is_a_user_error():
    model = build_detector(DetectorConfig(**TINY), VISUAL_DIM + 1, AUDIO_DIM)
    with pytest.raises(AvforgeError, match="visual features have 24 channels, the model expects 25"):
        model(tiny_batch())


def test_loss_needs_labels():
    model = build_detector(DetectorConfig(**TINY), VISUAL_DIM, AUDIO_DIM)
    batch = tiny_batch()
    batch.frame_labels = None
    with pytest.raises(AvforgeError, match="labelled batch"):
        model.loss(model(batch), batch)


def test_config_from_yaml_mapping_and_validation():
    cfg = from_dict(DetectorConfig, {"dim": 32, "pyramid_strides": [1, 2, 4],
                                     "regress_ranges_frames": [[0, 4], [4, 8], [8, 1000]]})
    assert cfg.pyramid_strides == (1, 2, 4) and cfg.regress_ranges_frames[2] == (8.0, 1000.0)
    with pytest.raises(AvforgeError, match="fusion"):
        DetectorConfig(fusion="sum")
    with pytest.raises(AvforgeError, match="one .low, high. pair per pyramid level"):
        DetectorConfig(pyramid_strides=(1, 2))
    with pytest.raises(AvforgeError, match="pyramid_strides"):
        DetectorConfig(pyramid_strides=(1, 3, 9, 27))
    with pytest.raises(AvforgeError, match="unknown key"):
        from_dict(DetectorConfig, {"fusoin": "concat"})
