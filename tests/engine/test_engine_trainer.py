"""Trainer on a toy model: determinism, accumulation maths, no-pickle checkpoints, AMP fallback."""
import json

import numpy as np
import pytest
import torch

import engine_toys
from safetensors.torch import load_file

from avforge.core.errors import AvforgeError
from avforge.engine.checkpoint import MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, list_checkpoints, load_training_state
from avforge.engine.train_config import TrainConfig
from avforge.engine.trainer import lr_at
from engine_toys import ToyModel, last_weights, train_toy

PICKLE_MAGIC = b"\x80"  # protocol >= 2 pickles (torch.save zips hold data.pkl) start with this byte


def assert_same(a: dict, b: dict, atol: float = 0.0):
    assert a.keys() == b.keys()
    for k in a:
        if atol == 0.0:
            assert torch.equal(a[k], b[k]), k
        else:
            torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0)


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    train_toy(tmp_path / "a", seed=3)
    train_toy(tmp_path / "b", seed=3)
    train_toy(tmp_path / "c", seed=4)
    a, b, c = (last_weights(tmp_path / x) for x in "abc")
    assert_same(a, b)
    assert not torch.equal(a["conv.weight"], c["conv.weight"])


def test_training_moves_the_weights_and_logs_each_epoch(tmp_path):
    history = train_toy(tmp_path, epochs=3, lr=3e-2)
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3] and lines == history
    assert [r["step"] for r in lines] == [4, 8, 12]  # 32 clips / batch 8
    assert lines[-1]["train"]["total"] < lines[0]["train"]["total"]
    assert set(lines[0]["val"]) == {"total", "bce"}


def test_grad_accum_is_the_same_maths(tmp_path):
    train_toy(tmp_path / "one", grad_accum=1)
    train_toy(tmp_path / "four", grad_accum=4)  # micro-batches of 2
    assert_same(last_weights(tmp_path / "one"), last_weights(tmp_path / "four"), atol=1e-6)


def test_checkpoint_is_safetensors_and_json_and_round_trips(tmp_path):
    train_toy(tmp_path, epochs=2, keep_checkpoints=1)
    folders = list_checkpoints(tmp_path / "checkpoints")
    assert [f.name for f in folders] == ["step_00000008"]  # older ones pruned
    files = sorted(p.name for p in folders[0].iterdir())
    assert files == sorted([MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, "rng_rank0.json"])
    for p in folders[0].iterdir():
        assert not p.read_bytes().startswith(PICKLE_MAGIC)
        if p.suffix == ".json":
            json.loads(p.read_text())
    opt = load_file(folders[0] / OPTIMIZER_FILE)
    assert {"state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step"} <= set(opt)
    # round trip: weights, optimizer moments and RNG come back
    model = ToyModel()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.0)
    torch.manual_seed(123)
    state = load_training_state(folders[0], model, optimizer, rank=0)
    assert state["step"] == 8 and state["epoch"] == 2
    assert_same(model.state_dict(), load_file(folders[0] / MODEL_FILE))
    assert torch.equal(optimizer.state_dict()["state"][0]["exp_avg"], opt["state.0.exp_avg"])
    assert optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(state["optimizer"]["param_groups"][0]["lr"])
    after_restore = torch.rand(3)
    torch.set_rng_state(torch.tensor(json.loads((folders[0] / "rng_rank0.json").read_text())["torch"],
                                     dtype=torch.uint8))
    assert torch.equal(after_restore, torch.rand(3))


def test_amp_fallback_on_non_finite_loss(tmp_path):
    """bf16 autocast on CPU; the toy loss is NaN whenever autocast is on -> skip, AMP off, go on."""
    history = train_toy(tmp_path, epochs=2, amp="bf16", nan_under_amp=True)
    events = [r for r in history if "event" in r]
    assert events == [{"event": "amp_disabled", "epoch": 1, "step": 0,
                       "reason": "non-finite loss under AMP; step skipped, continuing in fp32"}]
    epochs = [r for r in history if "epoch" in r and "event" not in r]
    assert [r["amp"] for r in epochs] == [False, False]
    assert all(np.isfinite(r["train"]["total"]) for r in epochs)
    w = last_weights(tmp_path)
    assert all(torch.isfinite(t).all() for t in w.values())
    # the skipped step changed nothing: only 7 updates happened; an fp32 run makes 8
    train_toy(tmp_path / "fp32", epochs=2)
    assert not torch.equal(w["conv.weight"], last_weights(tmp_path / "fp32")["conv.weight"])


def test_non_finite_fp32_loss_gives_up_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_toys, "autocast_on", lambda *a: True)  # the toy loss is NaN every step
    with pytest.raises(AvforgeError, match="not finite in fp32 for 5 steps"):
        train_toy(tmp_path, epochs=3, amp="bf16", nan_under_amp=True)


def test_resume_refuses_a_different_config(tmp_path):
    train_toy(tmp_path, epochs=1)
    with pytest.raises(AvforgeError, match="train.lr"):
        train_toy(tmp_path, epochs=2, lr=0.5)
    train_toy(tmp_path, epochs=2)  # more epochs is a continuation, not a different config
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])["epoch"] == 2


def test_config_errors_are_one_line(tmp_path):
    with pytest.raises(AvforgeError, match="train.amp"):
        TrainConfig(amp="fp8")
    with pytest.raises(AvforgeError, match="divisible"):
        TrainConfig(batch_size=6, grad_accum=4).micro_batch(1)
    with pytest.raises(AvforgeError, match="fp16 needs --device cuda"):
        train_toy(tmp_path, amp="fp16")
    assert not any(tmp_path.iterdir())


def test_cosine_schedule_with_warmup():
    cfg = TrainConfig(lr=1.0, min_lr_ratio=0.1)
    assert lr_at(0, 100, 10, cfg) == pytest.approx(0.1)
    assert lr_at(9, 100, 10, cfg) == pytest.approx(1.0)
    assert lr_at(10, 100, 10, cfg) == pytest.approx(1.0)
    assert lr_at(55, 100, 10, cfg) == pytest.approx(0.55)
    assert lr_at(100, 100, 10, cfg) == pytest.approx(0.1)
