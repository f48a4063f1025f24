"""Padding never changes the outputs on valid frames (to 1e-5), for every variant."""
import pytest
import torch

from avforge.core.batch import Batch
from avforge.models import FUSIONS, DetectorConfig, build_detector
from avforge.models.layers import masked_max_pool
from planted_features import AUDIO_DIM, VISUAL_DIM, PlantedGenerator

TINY = dict(dim=16, attn_heads=2, encoder_layers=2, head_layers=2, bm_max_duration_frames=10, bm_dim=8,
            attn_window_frames=3)


def padded(batch: Batch, extra: int) -> Batch:
    """Append ``extra`` frames of garbage features with mask False."""
    b = batch.visual.shape[0]
    return Batch(files=batch.files,
                 visual=torch.cat([batch.visual, 100 * torch.randn(b, extra, batch.visual.shape[2])], 1),
                 audio=torch.cat([batch.audio, 100 * torch.randn(b, extra, batch.audio.shape[2])], 1),
                 mask=torch.cat([batch.mask, torch.zeros(b, extra, dtype=torch.bool)], 1),
                 offset_s=batch.offset_s, duration_s=batch.duration_s)


def per_level(flat: torch.Tensor, n_frames: int, n_levels: int = 4) -> list[torch.Tensor]:
    """Split a flat (B, L, ...) anchor-free tensor into its levels (lengths ceil(T / 2^l))."""
    out, start = [], 0
    for level in range(n_levels):
        length = -(-n_frames // (1 << level))
        out.append(flat[:, start:start + length])
        start += length
    return out


@pytest.mark.parametrize("fusion,head,sync,edges", [(f, "both", False, False) for f in FUSIONS]
                         + [("discrepancy", "anchor_free", False, False), ("discrepancy", "bm", False, False),
                            ("concat", "both", True, True)])
@pytest.mark.parametrize("extra", [1, 13])
def test_appended_padding_changes_nothing(fusion, head, sync, edges, extra):
    torch.manual_seed(0)
    cfg = DetectorConfig(fusion=fusion, boundary_head=head, sync=sync, sync_dim=8, edge_head=edges, quality_span=edges,
                         **TINY)  # the span-reading quality head with the edge head
    model = build_detector(cfg, VISUAL_DIM, AUDIO_DIM).eval()
    n = 37  # odd, so that strided levels end on partial blocks
    batch = PlantedGenerator(seed=1).batch(2, n, 2)
    with torch.no_grad():
        a, b = model(batch), model(padded(batch, extra))
    for name in ("frame_logits", "audio_logits", "visual_logits"):
        torch.testing.assert_close(getattr(b, name)[:, :n], getattr(a, name), atol=1e-5, rtol=0)
    torch.testing.assert_close(b.video_logits, a.video_logits, atol=1e-5, rtol=0)
    if sync:
        torch.testing.assert_close(b.sync_curve[:, :n], a.sync_curve, atol=1e-5, rtol=0)
    if edges:  # edges 0..n lie around valid frames
        torch.testing.assert_close(b.edge_logits[:, :n + 1], a.edge_logits, atol=1e-5, rtol=0)
        assert float(b.edge_logits[:, n + 1:].abs().sum()) == 0.0
    if a.cls_logits is not None:
        for name in ("cls_logits", "reg_frames", "attr_logits", "boundaries_frames", "quality_logits"):
            for la, lb in zip(per_level(getattr(a, name), n), per_level(getattr(b, name), n + extra)):
                torch.testing.assert_close(lb[:, : la.shape[1]], la, atol=1e-5, rtol=0)
        assert int(b.point_mask.sum()) == int(a.point_mask.sum())
    if a.bm_logits is not None:
        cells = model.bm.cell_mask(batch.mask)
        torch.testing.assert_close(b.bm_logits[:, :, :n][cells], a.bm_logits[cells], atol=1e-5, rtol=0)
    pa, pb = model.decode(a, batch), model.decode(b, padded(batch, extra))
    for x, y in zip(pa, pb):
        torch.testing.assert_close(torch.from_numpy(y.scores), torch.from_numpy(x.scores), atol=1e-5, rtol=0)


def test_short_clip_in_a_batch_equals_the_clip_alone():
    torch.manual_seed(0)
    model = build_detector(DetectorConfig(boundary_head="both", **TINY), VISUAL_DIM, AUDIO_DIM).eval()
    gen = PlantedGenerator(seed=2)
    long, short = gen.batch(1, 50, 2), gen.batch(1, 29, 2)
    together = Batch(files=["long", "short"],
                     visual=torch.cat([long.visual, torch.cat([short.visual, torch.zeros(1, 21, VISUAL_DIM)], 1)]),
                     audio=torch.cat([long.audio, torch.cat([short.audio, torch.zeros(1, 21, AUDIO_DIM)], 1)]),
                     mask=torch.cat([long.mask, torch.cat([short.mask, torch.zeros(1, 21, dtype=torch.bool)], 1)]),
                     offset_s=torch.zeros(2, dtype=torch.float64), duration_s=torch.tensor([2.0, 1.16]))
    with torch.no_grad():
        alone, both = model(short), model(together)
    torch.testing.assert_close(both.frame_logits[1, :29], alone.frame_logits[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(both.video_logits[1], alone.video_logits[0], atol=1e-5, rtol=0)


def test_masked_max_pool_ignores_padding():
    x = torch.tensor([[1.0, 5.0, 2.0, 9.0, 3.0]])
    mask = torch.tensor([[True, True, True, False, False]])
    assert masked_max_pool(x, mask, 2)[0, :2].tolist() == [5.0, 2.0]
