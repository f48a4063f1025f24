"""Boundary refinement: interpolated sampling at fractional frame positions, refine/quality terms."""
import torch

from avforge.models import DetectorConfig, build_detector
from avforge.models.losses import segment_iou
from avforge.models.refine import sample_frames
from planted_features import AUDIO_DIM, VISUAL_DIM, PlantedGenerator


def test_sample_frames_interpolates_between_frame_centres_and_clamps_to_valid():
    feats = torch.arange(6, dtype=torch.float32).view(1, 6, 1) * 10  # frame i = 10 i, at centre i + 0.5
    positions = torch.tensor([[2.0, 0.5, 3.75, 0.1, 5.9]])
    n_valid = torch.tensor([4])  # frames 4, 5 are padding
    got = sample_frames(feats, positions, n_valid)[0, :, 0]
    torch.testing.assert_close(got, torch.tensor([15.0, 0.0, 30.0, 0.0, 30.0]))


def test_segment_iou():
    a = torch.tensor([[0.0, 2.0], [1.0, 3.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 3.0], [1.0, 3.0], [2.0, 3.0]])
    torch.testing.assert_close(segment_iou(a, b), torch.tensor([1 / 3, 1.0, 0.0]))


def test_refiner_outputs_and_loss_terms():
    torch.manual_seed(0)
    batch = PlantedGenerator(seed=4).batch(2, 32, 2)
    cfg = DetectorConfig(dim=16, attn_heads=2, encoder_layers=1, head_layers=1)
    model = build_detector(cfg, VISUAL_DIM, AUDIO_DIM)
    out = model(batch)
    n_points = 32 + 16 + 8 + 4
    assert out.boundaries_frames.shape == (2, n_points, 2) and out.quality_logits.shape == (2, n_points)
    terms = model.loss(out, batch)
    assert terms["refine"] > 0 and 0 < terms["quality"] < 10
    terms["total"].backward()
    assert model.refiner.start[0].weight.grad.abs().sum() > 0
    # the refiner does not push gradients into the coarse regression (it sees detached boundaries)
    model.zero_grad()
    model.loss(model(batch), batch)["refine"].backward()
    assert model.anchor_free.reg.conv.weight.grad is None or model.anchor_free.reg.conv.weight.grad.abs().sum() == 0

    plain = build_detector(DetectorConfig(dim=16, attn_heads=2, refine_boundaries=False), VISUAL_DIM, AUDIO_DIM)
    out = plain(batch)
    assert out.boundaries_frames is None and out.quality_logits is None
    assert "refine" not in plain.loss(out, batch)
