"""Experiment configs: one-line errors from the CLI, --set overrides, every shipped config runs."""
from pathlib import Path

import numpy as np
import pytest
import torch

from avforge.cli.main import main
from avforge.core.errors import AvforgeError
from avforge.data.dataset import FeatureItem, collate
from avforge.engine.config import load_experiment, parse_overrides, shipped_configs
from avforge.models.detector import build_detector

import avforge

CONFIG_FILES = sorted((Path(avforge.__file__).parent / "configs").glob("*.yaml"))  # a new one is tested too


def run_cli(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, *needles):
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    for n in needles:
        assert n in err, err


def test_config_errors_via_the_cli(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lrr: 0.1\n")
    rc, _, err = run_cli(["train", "--config", str(bad), "--exp-dir", str(tmp_path / "e")], capsys)
    assert_one_line_error(rc, err, "bad.yaml", "unknown key(s) ['lrr']")
    rc, _, err = run_cli(["train", "--config", "synthetic_small", "--exp-dir", str(tmp_path / "e"),
                          "--set", "train.epochs=many"], capsys)
    assert_one_line_error(rc, err, "config.train.epochs: expected an integer, got 'many'")
    rc, _, err = run_cli(["train", "--config", "synthetic_small", "--exp-dir", str(tmp_path / "e")], capsys)
    assert_one_line_error(rc, err, "data.visual_store is not set")
    assert not (tmp_path / "e").exists()


def test_overrides_parse_yaml_values():
    assert parse_overrides(["train.lr=1e-3", "model.pyramid_strides=[1, 2]", "train.amp=bf16", "a.b="]) == {
        "train.lr": 1e-3, "model.pyramid_strides": [1, 2], "train.amp": "bf16", "a.b": ""}
    with pytest.raises(AvforgeError, match="KEY=VALUE"):
        parse_overrides(["train.lr"])


def test_configs_are_found_by_listing_the_folder():
    assert len(CONFIG_FILES) >= 3 and shipped_configs() == [p.stem for p in CONFIG_FILES]


@pytest.mark.parametrize("name", [p.stem for p in CONFIG_FILES])
def test_every_shipped_config_builds_and_trains_every_parameter(name):
    """A fake and a real clip: every loss term is finite and every parameter gets a gradient
    (a head or branch left disconnected by a config fails here)."""
    cfg = load_experiment(name)
    torch.manual_seed(0)
    model = build_detector(cfg.model, 4, 3)
    rng = np.random.default_rng(0)
    fake = np.zeros(40, bool)
    fake[10:20] = True  # 0.4-0.8 s, audio forged

    def item(file, labels, segments, modality):
        return FeatureItem(file, rng.normal(size=(40, 4)).astype(np.float32), rng.normal(size=(40, 3)).astype(np.float32),
                           0.0, 1.6, labels, labels.copy(), np.zeros(40, bool), segments, modality,
                           words=np.array([[0.1, 0.4], [0.4, 0.8], [0.8, 1.3]]))  # for model.word_edges

    batch = collate([item("a.mp4", fake, np.array([[0.4, 0.8]]), np.array([0])),
                     item("b.mp4", np.zeros(40, bool), np.zeros((0, 2)), np.zeros(0, np.int64))])
    terms = model.loss(model(batch), batch)
    assert all(torch.isfinite(v) for v in terms.values()) and terms["total"] > 0
    terms["total"].backward()
    assert [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())] == []
