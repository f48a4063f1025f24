"""Lip-speech sync: learned on real clips only, it separates agreeing from disagreeing streams."""
import math

import pytest
import torch

from avforge.models import DetectorConfig, build_detector
from avforge.models.sync import SyncPretrainModel, load_sync_weights, real_frames, sync_nce_loss
from planted_features import AUDIO_DIM, VISUAL_DIM, PlantedGenerator

TINY = dict(dim=16, attn_heads=2, encoder_layers=1, head_layers=1)


def _agreement_gap(model, batch) -> float:
    """Mean cos(visual_t, audio_t) on real frames minus on frames where one stream was swapped."""
    with torch.no_grad():
        out = model(batch)
        cos = model.sync.offset_curve(out.visual, out.audio, out.mask)[..., model.sync.max_offset_frames]
    fake = batch.frame_labels.bool()
    return float(cos[~fake].mean() - cos[fake].mean())


@pytest.mark.parametrize("hidden", [0, 32])
def test_sync_trained_on_real_clips_only_flags_swapped_content(hidden):
    torch.manual_seed(0)
    model = SyncPretrainModel(VISUAL_DIM, AUDIO_DIM, dim=16, max_offset_frames=3, exclude_frames=1, temperature=0.1,
                              hidden=hidden)
    test = PlantedGenerator(seed=99).batch(8, 60, max_segments=2)
    assert test.frame_labels.sum() > 20
    untrained_gap = _agreement_gap(model, test)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = PlantedGenerator(seed=1)
    for _ in range(60):
        real = gen.batch(8, 48, max_segments=0)  # no forgery is ever seen
        loss = model.loss(model(real), real)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    gap = _agreement_gap(model, test)
    assert gap > 0.3 and gap > untrained_gap + 0.25, (gap, untrained_gap)
    # the offset curve peaks at 0 on real frames
    with torch.no_grad():
        out = model(test)
        curve = model.sync.offset_curve(out.visual, out.audio, out.mask)[~test.frame_labels.bool()]
    assert int(curve.mean(0).argmax()) == 3


def test_nce_ignores_near_neighbours_and_needs_two_frames():
    v = torch.nn.functional.normalize(torch.randn(1, 5, 4), dim=-1)
    mask = torch.zeros(1, 5, dtype=torch.bool)
    mask[0, 2] = True
    assert float(sync_nce_loss(v, v, mask)) == 0.0
    mask[:] = True
    # with every other frame excluded as a near neighbour, the positive is alone: loss 0
    assert float(sync_nce_loss(v, v, mask, exclude_frames=4)) == 0.0
    assert float(sync_nce_loss(v, v, mask, exclude_frames=0)) > 0.0


def test_nce_takes_at_most_max_frames():
    """Unrelated embeddings: InfoNCE is about log(number of candidates), so a capped loss reads
    log(cap), the full one log(all frames); at or under the cap nothing changes."""
    torch.manual_seed(0)
    v, a = (torch.nn.functional.normalize(torch.randn(4, 500, 32), dim=-1) for _ in range(2))
    mask = torch.ones(4, 500, dtype=torch.bool)
    full = float(sync_nce_loss(v, a, mask, exclude_frames=0, temperature=10.0))
    capped = float(sync_nce_loss(v, a, mask, exclude_frames=0, temperature=10.0, max_frames=100))
    assert abs(full - math.log(2000)) < 0.05 and abs(capped - math.log(100)) < 0.05
    assert float(sync_nce_loss(v, a, mask, max_frames=2000)) == float(sync_nce_loss(v, a, mask))
    torch.manual_seed(1)
    once = sync_nce_loss(v, a, mask, max_frames=100)
    torch.manual_seed(1)
    assert float(once) == float(sync_nce_loss(v, a, mask, max_frames=100))  # the seed decides the subset


def test_detector_with_sync_trains_and_exposes_the_curve():
    torch.manual_seed(0)
    cfg = DetectorConfig(sync=True, sync_dim=8, sync_max_offset_frames=2, w_sync=0.5, **TINY)
    model = build_detector(cfg, VISUAL_DIM, AUDIO_DIM)
    batch = PlantedGenerator(seed=3).batch(3, 40, max_segments=1)
    batch.segments[0] = batch.segments[0][:0]  # one clip is real, so the sync term has frames
    out = model(batch)
    assert out.sync_curve.shape == (3, 40, 5)
    probs = out.frame_probs()
    assert set(probs) == {"fused", "audio", "visual", "sync"}
    assert torch.allclose(probs["sync"], out.sync_curve[..., 2].clamp(0, 1))
    terms = model.loss(out, batch)
    assert float(terms["sync"].detach()) > 0
    terms["total"].backward()
    for name in ("sync.visual.out.weight", "sync.audio.out.weight", "sync_proj.0.weight"):
        assert dict(model.named_parameters())[name].grad.abs().sum() > 0, name


@pytest.mark.parametrize("hidden", [0, 12])
def test_pretrained_sync_weights_load_into_the_detector(hidden):
    torch.manual_seed(0)
    pre = SyncPretrainModel(VISUAL_DIM, AUDIO_DIM, dim=8, max_offset_frames=2, exclude_frames=1, temperature=0.1,
                            hidden=hidden)
    model = build_detector(DetectorConfig(sync=True, sync_dim=8, sync_max_offset_frames=2, sync_hidden=hidden, **TINY),
                           VISUAL_DIM, AUDIO_DIM)
    batch = PlantedGenerator(seed=4).batch(2, 30)
    before = model(batch).sync_curve
    load_sync_weights(model, pre.state_dict())
    after = model(batch).sync_curve
    o = pre(batch)
    assert not torch.allclose(before, after)
    assert torch.allclose(after, pre.sync.offset_curve(o.visual, o.audio, o.mask), atol=1e-6)


def test_sync_hidden_adds_a_per_frame_mlp_and_keeps_the_old_layout_at_zero():
    """sync_hidden 0 names and shapes the towers' parameters as checkpoints made before the option."""
    old = {k: tuple(v.shape) for k, v in SyncPretrainModel(VISUAL_DIM, AUDIO_DIM, 8, 2, 1, 0.1).state_dict().items()}
    assert old["sync.visual.inp.1.weight"] == (8, VISUAL_DIM) and "sync.visual.inp.3.weight" not in old
    deep = SyncPretrainModel(VISUAL_DIM, AUDIO_DIM, 8, 2, 1, 0.1, hidden=24).state_dict()
    assert tuple(deep["sync.visual.inp.1.weight"].shape) == (24, VISUAL_DIM)
    assert tuple(deep["sync.audio.inp.3.weight"].shape) == (8, 24)
    assert set(deep) - set(old) == {f"sync.{t}.inp.3.{p}" for t in ("visual", "audio") for p in ("weight", "bias")}


def test_sync_max_frames_below_two_or_negative_hidden_is_a_config_error():
    from avforge.core.errors import AvforgeError

    with pytest.raises(AvforgeError, match="sync_max_frames"):
        DetectorConfig(sync=True, sync_max_frames=1)
    with pytest.raises(AvforgeError, match="sync_hidden"):
        DetectorConfig(sync=True, sync_hidden=-1)
    assert DetectorConfig(sync=True).sync_max_frames == 4096


def test_real_frames_keep_a_margin_around_forged_frames_and_skip_padding():
    labels = torch.zeros(2, 30)
    labels[0, 10:15] = 1
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 25:] = False
    keep = real_frames(mask, labels, margin=3)
    assert keep[0].tolist() == [t < 7 or t > 17 for t in range(30)]
    assert torch.equal(keep[1], mask[1])


def test_real_spans_learn_from_forged_clips_without_seeing_their_forgeries():
    """With real_spans the loss reads every frame of a forged clip that no forged frame reaches through the
    towers' context: changing what the forged frames hold changes nothing."""
    torch.manual_seed(0)
    batch = PlantedGenerator(seed=6).batch(4, 60, max_segments=2)
    assert all(len(s) for s in batch.segments)  # every clip forged
    spans = SyncPretrainModel(VISUAL_DIM, AUDIO_DIM, 8, 2, 1, 0.1, kernel_size=5, max_frames=10_000, real_spans=True)
    out = spans(batch)
    assert spans.sync.context_frames == 6
    assert torch.equal(out.mask, real_frames(batch.mask, batch.frame_labels, 6)) and out.mask.sum() > 20
    loss = spans.loss(out, batch)["total"]
    tampered = PlantedGenerator(seed=6).batch(4, 60, max_segments=2)
    fake = tampered.frame_labels.bool()
    tampered.visual[fake] = torch.randn_like(tampered.visual[fake]) * 5
    tampered.audio[fake] = torch.randn_like(tampered.audio[fake]) * 5
    assert torch.allclose(spans.loss(spans(tampered), tampered)["total"], loss)
    # one frame less of margin and the tampered frames leak into the loss
    narrow = real_frames(batch.mask, batch.frame_labels, 5)
    o1, o2 = spans(batch), spans(tampered)
    assert not torch.allclose(sync_nce_loss(o1.visual, o1.audio, narrow, 1, 0.1),
                              sync_nce_loss(o2.visual, o2.audio, narrow, 1, 0.1))
    real_only = SyncPretrainModel(VISUAL_DIM, AUDIO_DIM, 8, 2, 1, 0.1)
    assert torch.equal(real_only(batch).mask, batch.mask)  # the engine passes it real clips only
    with pytest.raises(Exception, match="sync_real_spans"):
        DetectorConfig(sync_real_spans=True)  # without model.sync
