"""A checkpoint ensemble: members' outputs averaged before decoding, one layout required."""
import pytest
import torch

from avforge.core.errors import AvforgeError
from avforge.models import DetectorConfig, build_detector
from avforge.models.ensemble import LAYOUT_FIELDS, DetectorEnsemble
from planted_features import AUDIO_DIM, VISUAL_DIM, PlantedGenerator

TINY = dict(dim=16, attn_heads=2, encoder_layers=1, head_layers=1, sync=True, sync_dim=8, sync_max_offset_frames=2)


def _members(n, **overrides):
    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        out.append(build_detector(DetectorConfig(**{**TINY, **overrides}), VISUAL_DIM, AUDIO_DIM).eval())
    return out


@torch.no_grad()
def test_outputs_are_the_members_mean_and_decode_like_one_detector():
    members = _members(3)
    batch = PlantedGenerator(seed=5).batch(2, 48)
    outs = [m(batch) for m in members]
    ens = DetectorEnsemble(members).eval()
    out = ens(batch)
    for name in ("frame_logits", "video_logits", "cls_logits", "reg_frames", "boundaries_frames", "quality_logits",
                 "sync_curve", "attr_logits"):
        expected = torch.stack([getattr(o, name) for o in outs]).mean(0)
        assert torch.allclose(getattr(out, name), expected, atol=1e-6), name
        assert not torch.allclose(getattr(out, name), getattr(outs[0], name)), name  # members do differ
    for name in LAYOUT_FIELDS:
        assert torch.equal(getattr(out, name), getattr(outs[0], name))
    props = ens.decode(out, batch)
    assert len(props) == 2 and len(props[0].scores) > 0
    cls = torch.sigmoid(out.cls_logits[0][out.point_mask[0]]) * torch.sigmoid(out.quality_logits[0][out.point_mask[0]])
    assert float(props[0].scores.max()) == pytest.approx(float(cls.max()), abs=1e-6)
    single = DetectorEnsemble(members[:1])(batch)
    assert torch.equal(single.cls_logits, outs[0].cls_logits)


def test_members_of_another_layout_are_refused():
    with pytest.raises(AvforgeError, match="member 2 has pyramid_strides"):
        DetectorEnsemble(_members(1) + _members(1, pyramid_strides=(1, 2), regress_ranges_frames=((0, 8), (8, 1e5))))
    with pytest.raises(AvforgeError, match="member 2 reads features"):
        torch.manual_seed(0)
        DetectorEnsemble(_members(1) + [build_detector(DetectorConfig(**TINY), VISUAL_DIM + 1, AUDIO_DIM)])
    with pytest.raises(AvforgeError, match="at least one"):
        DetectorEnsemble([])
