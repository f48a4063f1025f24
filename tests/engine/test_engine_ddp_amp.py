"""AMP fallback under torchrun (2 CPU processes, gloo): every rank skips the same step.

The toy loss is NaN whenever autocast is on. Both ranks must agree to skip (one all-reduce of
the flag), finish DDP's pending reduction with a zero backward, turn AMP off and go on; with
grad_accum 2 the skipped step's remaining micro-batch is consumed but not computed.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from engine_toys import last_weights

TOYS = Path(__file__).with_name("engine_toys.py")


def test_non_finite_loss_under_ddp_skips_on_every_rank(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(TOYS),
           str(tmp_path), "--epochs", "1", "--grad-accum", "2", "--amp", "bf16", "--nan-under-amp"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["event"] == "amp_disabled" and rows[0]["step"] == 0
    assert rows[1]["epoch"] == 1 and rows[1]["amp"] is False and rows[1]["step"] == 4
    assert all(torch.isfinite(t).all() for t in last_weights(tmp_path).values())
