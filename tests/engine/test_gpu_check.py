"""``benchmarks/gpu_check.sh --device cpu --quick`` runs every path of the GPU check on CPU, so
the script a GPU machine runs cannot rot: each check passes and the table has every row."""
import os
import re
import signal
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"


def test_gpu_check_runs_on_cpu_quick(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(["bash", str(SCRIPT), "--device", "cpu", "--quick"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:  # ~25 s of CPU; the long limit only guards against a hang on a crowded machine
        out, err = proc.communicate(timeout=1200)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    res = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    rows = {}
    for line in res.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("check", "---"):
            rows.setdefault(cells[0], []).append(cells)
    assert all(r[3] in ("yes", "") for rs in rows.values() for r in rs)
    assert rows["bf16 autocast, one step"][0][3] == "yes"
    assert [r[0] for rs in rows.values() for r in rs if r[0].startswith("trainer")] == \
        ["trainer, amp=none", "trainer, amp=bf16"]
    assert "backend gloo" in rows["torchrun --nproc_per_node 1 avforge train"][0][2]
    for encoder in ("logmel", "lip-light", "lip-resnet-small", "wavlm-tiny"):
        assert [r[1].split(",")[0] for r in rows[f"extract {encoder}"]] == ["batch 1", "batch 2"]
    rtf = float(re.search(r"real-time factor ([0-9.]+)", rows["avforge infer"][0][2]).group(1))
    assert 0 < rtf < 100
    assert "device-hours" in rows["projection: avforge infer"][0][2]
    assert "all checks passed" in res.stdout
    assert not list(tmp_path.glob("gpu_check.*"))  # the scratch folder is removed
