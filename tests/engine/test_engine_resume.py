"""Kill-and-resume in a separate process: SIGKILL after the first checkpoint, then resume."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from avforge.engine.checkpoint import list_checkpoints
from engine_toys import last_weights

TOYS = Path(__file__).with_name("engine_toys.py")


def test_kill_and_resume_gives_the_uninterrupted_weights(tmp_path):
    """3 epochs x 4 steps, a checkpoint every 2 steps (mid-epoch too); the first run is killed
    (SIGKILL) right after its first checkpoint, the second resumes and finishes."""
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, str(TOYS), str(run_dir), "--epochs", "3", "--save-every-steps", "2"]
    proc = subprocess.Popen(cmd + ["--delay-s", "0.03"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not list_checkpoints(run_dir / "checkpoints") and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = list_checkpoints(run_dir / "checkpoints")
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert done and done[-1].name < "step_00000012", "the run finished before it was killed"
    killed_at = done[-1].name

    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from {run_dir / 'checkpoints' / killed_at}" in resumed.stderr

    straight = [sys.executable, str(TOYS), str(tmp_path / "straight"), "--epochs", "3", "--save-every-steps", "2"]
    subprocess.run(straight, check=True, capture_output=True, timeout=120)
    # Same ops in the same order, same thread count, same machine: bitwise equal.
    resumed_w, straight_w = last_weights(run_dir), last_weights(tmp_path / "straight")
    assert resumed_w.keys() == straight_w.keys()
    assert all(torch.equal(resumed_w[k], straight_w[k]) for k in resumed_w)
    assert (run_dir / "metrics.jsonl").read_text().count("\n") == 3
