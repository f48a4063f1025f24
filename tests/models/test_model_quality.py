"""model.quality_on: which locations the quality head (score = class x predicted IoU) learns from."""
import pytest
import torch

from avforge.core.errors import AvforgeError
from avforge.models import DetectorConfig, build_detector
from avforge.models.detector import _overlapping_quality
from avforge.models.outputs import DetectorOutput
from avforge.models.refine import span_means
from planted_features import AUDIO_DIM, VISUAL_DIM, PlantedGenerator

TINY = dict(dim=16, attn_heads=2, encoder_layers=1, head_layers=1, dropout=0.0)


def _output(boundaries):
    """One clip, one location per given [start, end] proposal (frames), quality logit = its index."""
    n = len(boundaries)
    zeros = torch.zeros(1, 8)
    return DetectorOutput(mask=torch.ones(1, 8, dtype=torch.bool), frame_logits=zeros, audio_logits=zeros,
                          visual_logits=zeros, video_logits=torch.zeros(1), point_mask=torch.ones(1, n, dtype=torch.bool),
                          boundaries_frames=torch.tensor([boundaries], dtype=torch.float32),
                          quality_logits=torch.arange(n, dtype=torch.float32).unsqueeze(0))


def test_partial_proposals_learn_their_best_iou_and_positives_or_unknown_edges_are_left_out():
    out = _output([[10, 20], [15, 20], [30, 34], [40, 44], [50, 52], [0, 4]])
    pos = torch.tensor([[True, False, False, False, False, False]])  # location 0 is the segment's positive
    segs = [torch.tensor([[10.0, 20.0], [31.0, 35.0], [40.0, 44.0]])]
    sure = [torch.tensor([True, True, False])]  # the third segment is a pseudo-forgery of unknown edges
    logits, targets = _overlapping_quality(out, pos, segs, sure)
    # location 1: half of segment 1; location 2: 3 of 5 frames of segment 2; 3 overlaps the pseudo-forgery
    # only; 4 and 5 overlap nothing; 0 is a positive (the positives' own term covers it)
    assert logits.tolist() == [1.0, 2.0]
    assert targets.tolist() == pytest.approx([0.5, 0.6])
    none = _overlapping_quality(out, pos, [torch.zeros(0, 2)], [torch.zeros(0, dtype=torch.bool)])
    assert [len(x) for x in none] == [0, 0]


def test_overlapping_adds_to_the_quality_term_and_nothing_else():
    batch = PlantedGenerator(seed=4).batch(4, 48, max_segments=2)
    terms = {}
    for where in ("positives", "overlapping"):
        torch.manual_seed(0)
        model = build_detector(DetectorConfig(quality_on=where, **TINY), VISUAL_DIM, AUDIO_DIM)
        with torch.no_grad():
            terms[where] = model.loss(model(batch), batch)
    before, after = terms["positives"], terms["overlapping"]
    assert float(after["quality"]) != pytest.approx(float(before["quality"]), abs=1e-4)
    assert all(torch.equal(before[k], after[k]) for k in before if k not in ("quality", "total"))


def test_unknown_setting_is_a_config_error():
    with pytest.raises(AvforgeError, match="quality_on must be one of"):
        DetectorConfig(quality_on="everywhere")


def test_span_means_average_whole_and_fractional_frames_inside_the_clip():
    feats = torch.arange(10, dtype=torch.float32).view(1, 10, 1)  # frame i = i, covering [i, i + 1)
    start = torch.tensor([[0.0, 2.0, 2.5, -3.0, 9.0, 12.0, 7.0]])
    end = torch.tensor([[10.0, 4.0, 3.5, 1.0, 14.0, 14.0, 9.0]])
    got = span_means(feats, start, end, torch.tensor([8]))[0, :, 0]  # frames 8, 9 are padding
    torch.testing.assert_close(got, torch.tensor([3.5, 2.5, 2.5, 0.0, 0.0, 0.0, 7.0]))


def test_span_quality_reads_the_flanks_of_the_refined_segment():
    batch = PlantedGenerator(seed=4).batch(2, 32, 2)
    torch.manual_seed(0)
    model = build_detector(DetectorConfig(quality_span=True, **TINY), VISUAL_DIM, AUDIO_DIM)
    out = model(batch)
    terms = model.loss(out, batch)
    terms["quality"].backward()
    n_edges = 2 * (5 * 8 + 1)  # +-2 frames of 16 / 2 features and the phase, at both boundaries
    grad = model.refiner.quality[0].weight.grad
    assert grad.shape[1] == n_edges + 3 * 8 and float(grad[:, n_edges:].abs().sum()) > 0
    # a feature changed only beside a segment changes its quality, not its refined boundaries
    fused = torch.randn(1, 40, 16)
    mask = torch.ones(1, 40, dtype=torch.bool)
    points, reg = torch.tensor([20.0]), torch.tensor([[[8.0, 8.0]]])  # about [12, 28]: left flank about [4, 12]
    with torch.no_grad():
        bounds, quality = model.refiner(fused, mask, points, reg)
        fused[0, 5:8] += 3.0  # beside the segment, beyond the frames sampled around its start (9 to 14)
        bounds2, quality2 = model.refiner(fused, mask, points, reg)
    torch.testing.assert_close(bounds, bounds2)
    assert abs(float(quality2 - quality)) > 1e-4
