"""Edge head: dense start / end targets between frames, the balanced loss, and what training it does."""
import math

import torch

from avforge.core.types import MODALITIES
from avforge.models import DetectorConfig, build_detector
from avforge.models.edges import edge_loss, edge_mask, edge_targets, word_edge_targets
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


def train_edges(model, batch, term: str, steps: int = 60) -> tuple[float, float]:
    """``steps`` AdamW steps on one batch; the ``term`` loss before and after."""
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(steps):
        terms = model.loss(model(batch), batch)
        first = float(terms[term].detach()) if first is None else first
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
    return first, float(terms[term].detach())


def found_edges(probs: torch.Tensor, spans_s) -> tuple[int, int]:
    """How many of the spans' starts / ends inside the clip have probability > 0.5 on their nearest
    edge, and how many there are."""
    found, n = 0, 0
    for b, spans in enumerate(spans_s):
        for k, position in enumerate((spans * 25).flatten().tolist()):  # seconds -> frames: start, end, ...
            if 1 <= position <= probs.shape[1] - 2:
                n += 1
                found += float(probs[b, round(position), k % 2]) > 0.5
    return found, n


def test_detector_learns_where_planted_segments_start_and_end():
    torch.manual_seed(0)
    cfg = DetectorConfig(dim=32, attn_heads=2, encoder_layers=1, head_layers=1, dropout=0.0, edge_head=True)
    model = build_detector(cfg, VISUAL_DIM, AUDIO_DIM)
    batch = PlantedGenerator(seed=5).batch(6, 64, max_segments=2)
    first, last = train_edges(model, batch, "edges")
    assert last < 0.3 * first
    with torch.no_grad():
        found, n = found_edges(torch.sigmoid(model(batch).edge_logits), batch.segments)
    assert n >= 6 and found >= 0.9 * n


def test_word_edge_targets_count_only_known_words_outside_replaced_audio():
    words = torch.tensor([[2.0, 5.0], [5.0, 9.0], [9.0, 14.0]])
    targets, counted = word_edge_targets(words, 20, known=True, replaced_frames=torch.zeros(0, 2))
    assert [int(targets[:, 0].argmax()), int(targets[:, 1].argmax())] == [2, 5]
    assert targets[[2, 5, 9], 0].tolist() == [1.0, 1.0, 1.0] and targets[[5, 9, 14], 1].tolist() == [1.0, 1.0, 1.0]
    assert counted.tolist() == [False] + [True] * 19 + [False]
    _, unknown = word_edge_targets(words, 20, known=False, replaced_frames=torch.zeros(0, 2))
    assert not unknown.any()
    _, cut = word_edge_targets(words, 20, known=True, replaced_frames=torch.tensor([[8.0, 10.5]]))
    assert [k for k in range(21) if not cut[k]] == [0, 6, 7, 8, 9, 10, 11, 12, 20]


def test_detector_learns_where_words_start_and_end_from_the_word_timings_alone():
    torch.manual_seed(0)
    cfg = DetectorConfig(dim=32, attn_heads=2, encoder_layers=1, head_layers=1, dropout=0.0, word_edges=True)
    model = build_detector(cfg, VISUAL_DIM, AUDIO_DIM)
    batch = PlantedGenerator(seed=5).batch(6, 64, max_segments=2)
    # the planted spans, which the features carry, as the clips' "words"; the segments then say nothing
    batch.words, batch.words_known = batch.segments, torch.ones(6, dtype=torch.bool)
    empty = [s[:0] for s in batch.segments]
    batch.segments, batch.segment_modality = empty, [m[:0] for m in batch.segment_modality]
    batch.frame_labels, batch.audio_labels, batch.visual_labels = (
        torch.zeros_like(batch.frame_labels), torch.zeros_like(batch.audio_labels), torch.zeros_like(batch.visual_labels))
    first, last = train_edges(model, batch, "word_edges")
    assert last < 0.3 * first
    with torch.no_grad():
        found, n = found_edges(torch.sigmoid(model(batch).word_edge_logits), batch.words)
        model.eval()
        assert model(batch).word_edge_logits is None  # a training aid: inference does not compute it
    assert n >= 6 and found >= 0.9 * n
    model.train()
    whole = [torch.tensor([[0.0, 64 / 25]]) for _ in range(6)]
    batch.segments, batch.segment_pseudo = whole, [torch.ones(1, dtype=torch.bool) for _ in range(6)]
    for modality, counts in (("visual", True), ("audio", False)):  # words inside replaced audio are another's
        batch.segment_modality = [torch.tensor([MODALITIES.index(modality)]) for _ in range(6)]
        assert (float(model.loss(model(batch), batch)["word_edges"].detach()) > 0) == counts
    batch.words_known[:] = False  # no timings known: no term
    assert float(model.loss(model(batch), batch)["word_edges"].detach()) == 0.0
