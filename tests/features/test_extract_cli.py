"""`avforge extract` as users run it: killed midway and resumed, and under torchrun with 2 ranks."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avforge.features.store import FeatureStore
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


def kill_midway(cmd, n_done) -> int:
    """Start ``cmd``, SIGKILL it once ``n_done()`` >= 3; returns how many were done by then."""
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while n_done() < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = n_done()
    assert proc.returncode == -signal.SIGKILL and 3 <= done < N_VIDEOS
    return done


def packed_keys(out: Path) -> list[str]:
    """Every key of every complete index line of a packed store (a key indexed twice shows twice)."""
    lines = [x for p in sorted(out.glob("packs/*.idx")) for x in p.read_bytes().split(b"\n")]
    return [json.loads(x)["file"] for x in lines if x.endswith(b"}")]


def contents(out: Path) -> dict[str, bytes]:
    store = FeatureStore(out)
    return {f: store.load(f).data.tobytes() for f in store.files()}


def test_killed_run_resumes_to_the_same_store_byte_for_byte(tmp_path, manifest):
    encoder = ["lip-resnet", "--variant", "small"]
    reference = tmp_path / "reference"
    assert f"done {N_VIDEOS}, skipped 0, failed 0" in run(extract_cmd(manifest, reference, *encoder))

    resumed = tmp_path / "resumed"
    n_before = kill_midway(extract_cmd(manifest, resumed, *encoder), lambda: len(feature_files(resumed)))

    log = run(extract_cmd(manifest, resumed, *encoder))
    assert f"done {N_VIDEOS - n_before}, skipped {n_before}, failed 0" in log
    assert tree_bytes(resumed) == tree_bytes(reference)


def test_killed_packed_float16_run_resumes_to_the_same_features(tmp_path, manifest):
    """Packed: the bytes split differently over pack files, but every video's features are identical,
    none is lost and none is stored twice."""
    encoder = ["lip-resnet", "--variant", "small", "--dtype", "float16", "--layout", "packed"]
    reference = tmp_path / "reference"
    run(extract_cmd(manifest, reference, *encoder))
    resumed = tmp_path / "resumed"
    n_before = kill_midway(extract_cmd(manifest, resumed, *encoder), lambda: len(packed_keys(resumed)))

    log = run(extract_cmd(manifest, resumed, *encoder[:3]))  # the store keeps its float16 / packed storage
    assert f"done {N_VIDEOS - n_before}, skipped {n_before}, failed 0" in log
    assert sorted(packed_keys(resumed)) == sorted(packed_keys(reference)) and len(packed_keys(resumed)) == N_VIDEOS
    assert contents(resumed) == contents(reference)
    assert len(list(resumed.rglob("*"))) < N_VIDEOS  # a few pack files, not one per video


def test_torchrun_with_two_ranks_writes_the_same_store_as_one_process(tmp_path, manifest):
    single = tmp_path / "single"
    run(extract_cmd(manifest, single, "logmel"))
    multi = tmp_path / "multi"
    log = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", *extract_cmd(manifest, multi, "logmel")[2:]])
    assert "[shard 0/2]: done 6," in log and "[shard 1/2]: done 6," in log
    assert tree_bytes(multi) == tree_bytes(single)
    assert len(feature_files(single)) == N_VIDEOS


def test_two_shard_jobs_fill_one_packed_store(tmp_path, manifest):
    """--shard 0/2 and 1/2 as two independent jobs at the same time into one packed store."""
    single, multi = tmp_path / "single", tmp_path / "multi"
    run(extract_cmd(manifest, single, "logmel", "--layout", "packed"))
    jobs = [subprocess.Popen(extract_cmd(manifest, multi, "logmel", "--layout", "packed", "--shard", f"{i}/2"),
                             env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for i in range(2)]
    logs = [job.communicate(timeout=300)[1] for job in jobs]
    assert all(job.returncode == 0 for job in jobs), logs
    assert "[shard 0/2]: done 6," in logs[0] and "[shard 1/2]: done 6," in logs[1]
    assert contents(multi) == contents(single) and len(packed_keys(multi)) == N_VIDEOS


def test_a_failed_video_makes_the_run_exit_1_after_doing_the_rest(tmp_path, manifest):
    """The recipe must not mark the stage done when videos failed (it used to exit 0)."""
    from avforge.cli.main import main

    lines = manifest.read_text().splitlines()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    bad = {**json.loads(lines[0]), "file": "zz/broken.mp4", "path": str(broken)}
    partial = tmp_path / "partial.jsonl"
    partial.write_text("\n".join(lines[:3] + [json.dumps(bad)]) + "\n")
    argv = extract_cmd(partial, tmp_path / "store", "lip-light")[3:]
    assert main(argv) == 1
    assert len(feature_files(tmp_path / "store")) == 3
    assert main(argv) == 1  # a re-run retries the failed one and still says so
    partial.write_text("\n".join(lines[:3]) + "\n")
    assert main(argv) == 0
