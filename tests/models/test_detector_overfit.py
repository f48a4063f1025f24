"""A handful of planted-discrepancy clips: the detector fits them to near-perfect localization."""
import pytest
import torch

from avforge.core.types import MODALITIES
from avforge.models import DetectorConfig, build_detector
from avforge.postprocess import PostprocessConfig, postprocess
from planted_features import AUDIO_DIM, VISUAL_DIM, PlantedGenerator, average_precision


def fit(cfg: DetectorConfig, steps: int):
    torch.manual_seed(0)
    batch = PlantedGenerator(seed=5).batch(6, 64, max_segments=2)
    model = build_detector(cfg, VISUAL_DIM, AUDIO_DIM)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = model.loss(model(batch), batch)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(batch)
    proposals = [postprocess(p, PostprocessConfig()) for p in model.decode(out, batch)]
    return batch, out, proposals


@pytest.mark.parametrize("head", ["anchor_free", "bm"])
def test_overfits_a_handful_of_clips(head):
    cfg = DetectorConfig(dim=32, attn_heads=2, encoder_layers=1, head_layers=1, dropout=0.0, boundary_head=head,
                         bm_max_duration_frames=24)
    batch, out, proposals = fit(cfg, steps=40)
    segments = [s.numpy() for s in batch.segments]
    assert sum(len(s) for s in segments) >= 4
    assert average_precision(proposals, segments, 0.5) >= 0.9
    assert average_precision(proposals, segments, 0.75) >= 0.8
    fake = torch.tensor([len(s) > 0 for s in segments])
    scores = out.video_scores()
    assert scores[fake].min() > scores[~fake].max()
    if head == "anchor_free":  # attribution of the top proposal on each fake segment
        for p, segs, mods in zip(proposals, batch.segments, batch.segment_modality):
            for (s, e), m in zip(segs.tolist(), mods.tolist()):
                best = max(range(len(p)), key=lambda i: (min(e, p.ends_s[i]) - max(s, p.starts_s[i])) * p.scores[i])
                assert p.modality[best] == MODALITIES[m]
