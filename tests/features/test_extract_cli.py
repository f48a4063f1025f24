"""`avforge extract` as users run it: killed midway and resumed, and under torchrun with 2 ranks."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from features_clips import tree_bytes, write_dataset

REPO = Path(__file__).resolve().parents[2]
N_VIDEOS = 12


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"), N_VIDEOS)


def env():
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def extract_cmd(manifest, out, encoder, *extra):
    return [sys.executable, "-m", "avforge", "extract", "--manifest", str(manifest), "--encoder", encoder,
            "--out", str(out), "--no-progress", "--workers", "0", *extra]


def run(cmd):
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def feature_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*.npy") if not p.name.startswith(".")] if out.exists() else []


def test_killed_run_resumes_to_the_same_store_byte_for_byte(tmp_path, manifest):
    encoder = ["lip-resnet", "--variant", "small"]
    reference = tmp_path / "reference"
    assert f"done {N_VIDEOS}, skipped 0, failed 0" in run(extract_cmd(manifest, reference, *encoder))

    resumed = tmp_path / "resumed"
    proc = subprocess.Popen(extract_cmd(manifest, resumed, *encoder), env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(feature_files(resumed)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len(feature_files(resumed))
    assert proc.returncode == -signal.SIGKILL and 3 <= n_before < N_VIDEOS

    log = run(extract_cmd(manifest, resumed, *encoder))
    assert f"done {N_VIDEOS - n_before}, skipped {n_before}, failed 0" in log
    assert tree_bytes(resumed) == tree_bytes(reference)


def test_torchrun_with_two_ranks_writes_the_same_store_as_one_process(tmp_path, manifest):
    single = tmp_path / "single"
    run(extract_cmd(manifest, single, "logmel"))
    multi = tmp_path / "multi"
    log = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", *extract_cmd(manifest, multi, "logmel")[2:]])
    assert "[shard 0/2]: done 6," in log and "[shard 1/2]: done 6," in log
    assert tree_bytes(multi) == tree_bytes(single)
    assert len(feature_files(single)) == N_VIDEOS
