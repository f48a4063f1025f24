"""torchrun with 2 CPU processes (gloo) trains the same weights as 1 process."""
import os
import subprocess
import sys
from pathlib import Path

import torch

from avforge.engine.checkpoint import list_checkpoints
from engine_toys import last_weights, train_toy

TOYS = Path(__file__).with_name("engine_toys.py")


def assert_close(a: dict, b: dict, atol: float):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0)


def test_torchrun_two_cpu_processes_match_one_process(tmp_path):
    """2 ranks x micro-batch 2 x grad_accum 2 = global batch 8, as 1 process with batch 8.

    Each rank takes perm[rank::2] of the same (seed, epoch) permutation, so every optimizer step
    sees the same 8 clips; DDP averages the ranks' gradients. The trainer itself checks that
    both ranks hold identical weights at every checkpoint (it raises otherwise)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(TOYS), str(tmp_path / "ddp"), "--epochs", "2", "--grad-accum", "2"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    state = (list_checkpoints(tmp_path / "ddp" / "checkpoints")[-1] / "state.json").read_text()
    assert '"world_size": 2' in state
    train_toy(tmp_path / "single", epochs=2)
    assert_close(last_weights(tmp_path / "ddp"), last_weights(tmp_path / "single"), atol=1e-6)
