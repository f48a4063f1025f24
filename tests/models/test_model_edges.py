"""Edge head: dense start / end targets between frames, the balanced loss, and what training it does."""
import math

import torch

from avforge.models import DetectorConfig, build_detector
from avforge.models.edges import edge_loss, edge_mask, edge_targets
from planted_features import AUDIO_DIM, VISUAL_DIM, PlantedGenerator


def test_targets_peak_on_the_edges_nearest_each_boundary():
    targets, counted = edge_targets(torch.tensor([[3.4, 7.6]]), n_frames=10)
    assert targets.shape == (11, 2) and counted.tolist() == [False] + [True] * 9 + [False]
    assert int(targets[:, 0].argmax()) == 3 and int(targets[:, 1].argmax()) == 8
    torch.testing.assert_close(targets[3, 0], torch.tensor(math.exp(-0.5 * 0.4 ** 2)))
    torch.testing.assert_close(targets[4, 0], torch.tensor(math.exp(-0.5 * 0.6 ** 2)))
    assert float(targets[7:, 0].max()) < 0.01 and float(targets[:5, 1].max()) < 0.01
    empty, _ = edge_targets(torch.zeros(0, 2), n_frames=10)
    assert float(empty.abs().sum()) == 0.0


def test_edge_mask_covers_edges_around_valid_frames():
    mask = torch.tensor([[True, True, True, False, False]])
    assert edge_mask(mask).tolist() == [[True, True, True, True, False, False]]


def test_loss_balances_rare_boundaries_against_the_rest():
    targets = torch.zeros(1, 21, 2)
    targets[0, 5, 0] = targets[0, 12, 1] = 1.0  # one start, one end among 19 counted edges
    counted = torch.ones(1, 21, dtype=torch.bool)
    counted[0, [0, 20]] = False
    # at logits 0 the start and the end term cost ln 2 each, whatever the imbalance
    torch.testing.assert_close(edge_loss(torch.zeros(1, 21, 2), targets, counted), torch.tensor(2 * math.log(2)))
    right = torch.where(targets > 0.5, 4.0, -4.0)
    blind = torch.full_like(right, -4.0)  # "never a boundary" is cheap only without balancing
    assert float(edge_loss(right, targets, counted)) < 0.1 < 2.0 < float(edge_loss(blind, targets, counted))
    counted_only = edge_loss(right + 100 * (~counted).unsqueeze(-1), targets, counted)
    torch.testing.assert_close(counted_only, edge_loss(right, targets, counted))


def test_detector_learns_where_planted_segments_start_and_end():
    torch.manual_seed(0)
    cfg = DetectorConfig(dim=32, attn_heads=2, encoder_layers=1, head_layers=1, dropout=0.0, edge_head=True)
    model = build_detector(cfg, VISUAL_DIM, AUDIO_DIM)
    batch = PlantedGenerator(seed=5).batch(6, 64, max_segments=2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        terms = model.loss(model(batch), batch)
        first = float(terms["edges"].detach()) if first is None else first
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
    assert float(terms["edges"].detach()) < 0.3 * first
    with torch.no_grad():
        probs = torch.sigmoid(model(batch).edge_logits)
    found, n = 0, 0
    for b, segs in enumerate(batch.segments):
        for k, position in enumerate((segs * 25).flatten().tolist()):  # seconds -> frames: start, end, ...
            if 1 <= position <= 63:
                n += 1
                found += float(probs[b, round(position), k % 2]) > 0.5
    assert n >= 6 and found >= 0.9 * n
