"""model.pseudo_boundaries: what pseudo-forgeries (data.splice) teach besides that they are fake."""
import pytest
import torch

from avforge.core.errors import AvforgeError
from avforge.models import DetectorConfig, build_detector
from avforge.models.edges import edge_targets
from planted_features import AUDIO_DIM, VISUAL_DIM, PlantedGenerator

TINY = dict(dim=16, attn_heads=2, encoder_layers=1, head_layers=1, dropout=0.0, edge_head=True)
BOUNDARY_TERMS = ("reg", "refine", "quality")


def test_edges_near_a_boundary_of_unknown_truth_do_not_count():
    targets, counted = edge_targets(torch.tensor([[3.0, 6.0]]), n_frames=20, unsure_frames=torch.tensor([[12.4, 16.0]]))
    assert [k for k in range(21) if not counted[k]] == [0, 11, 12, 13, 14, 15, 16, 17, 18, 20]
    assert int(targets[:, 0].argmax()) == 3 and float(targets[10:, :].max()) < 1e-3  # no target from it
    plain_targets, plain_counted = edge_targets(torch.tensor([[3.0, 6.0]]), n_frames=20)
    assert torch.equal(targets, plain_targets) and int(plain_counted.sum()) == 19


def _terms(pseudo_boundaries: str, which, **config):
    torch.manual_seed(0)
    model = build_detector(DetectorConfig(pseudo_boundaries=pseudo_boundaries, **TINY, **config), VISUAL_DIM, AUDIO_DIM)
    batch = PlantedGenerator(seed=4).batch(4, 48, max_segments=2)
    batch.segment_pseudo = [which(len(s)) for s in batch.segments]
    with torch.no_grad():
        return model.loss(model(batch), batch), batch


def all_pseudo(n):
    return torch.ones(n, dtype=torch.bool)


def test_what_pseudo_forgeries_teach_under_each_setting():
    every, batch = _terms("all", all_pseudo)
    assert sum(len(s) for s in batch.segments) >= 3
    assert all(float(every[k]) > 0 for k in BOUNDARY_TERMS)
    coarse, _ = _terms("coarse", all_pseudo)
    none, _ = _terms("none", all_pseudo)
    assert torch.equal(coarse["reg"], every["reg"]) and float(none["reg"]) == 0.0
    assert all(float(t[k]) == 0.0 for t in (coarse, none) for k in ("refine", "quality"))
    for t in (coarse, none):  # that they are fake, always
        assert all(torch.equal(t[k], every[k]) for k in ("cls", "attr", "frame", "video"))
        assert float(t["edges"]) > 0 and float(t["edges"]) != float(every["edges"])
    # "scored": the regression and the quality head as with "all", not the exact edges
    scored, _ = _terms("scored", all_pseudo)
    assert all(torch.equal(scored[k], every[k]) for k in ("reg", "quality", "cls", "attr"))
    assert float(scored["refine"]) == 0.0 and torch.equal(scored["edges"], coarse["edges"])
    # ... also where the quality head learns from the proposals that overlap a segment
    over = {k: _terms(k, all_pseudo, quality_on="overlapping")[0]["quality"] for k in ("all", "scored", "coarse")}
    assert torch.equal(over["scored"], over["all"]) and float(over["all"]) > 0 and float(over["coarse"]) == 0.0
    # no pseudo-forgery in the batch: the setting changes nothing
    real, _ = _terms("none", lambda n: torch.zeros(n, dtype=torch.bool))
    assert all(torch.equal(real[k], every[k]) for k in every)


def test_boundary_terms_of_a_mixed_batch_come_from_the_labelled_segments():
    first_only = lambda n: torch.arange(n) == 0  # noqa: E731  the first segment of each clip is pseudo
    mixed, batch = _terms("none", first_only)
    assert sum(max(len(s) - 1, 0) for s in batch.segments) >= 1  # some labelled segments remain
    assert float(mixed["reg"]) > 0 and float(mixed["refine"]) > 0
    every, _ = _terms("all", first_only)
    assert float(mixed["reg"]) != float(every["reg"])


def test_unknown_setting_is_a_config_error():
    with pytest.raises(AvforgeError, match="pseudo_boundaries must be one of"):
        DetectorConfig(pseudo_boundaries="some")
