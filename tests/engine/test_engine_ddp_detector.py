"""``python -m torch.distributed.run --nproc_per_node 2 -m avforge train`` with the real Detector.

With the Detector, 2 ranks do not reproduce 1 process exactly (its focal/DIoU losses are
normalised by the number of positives of the *local* batch); what must hold is that the run
completes, both ranks hold identical weights (the trainer checks this at every checkpoint and
raises otherwise) and the checkpoint records the world size it needs for resuming.
"""
import json
import os
import subprocess
import sys

from avforge.cli.main import main
from avforge.engine.checkpoint import list_checkpoints
from engine_toys import make_feature_data

TINY = ["model.dim=16", "model.attn_heads=2", "model.pyramid_strides=[1,2]",
        "model.regress_ranges_frames=[[0,8],[8,100000]]", "train.epochs=2", "train.batch_size=4",
        "data.max_frames=64", "model.sync_pretrain_epochs=2"]


def test_torchrun_two_processes_train_the_detector(tmp_path, capsys):
    vis, aud, train = make_feature_data(tmp_path, [60, 80, 70, 90, 64, 75, 66, 88])
    args = ["train", "--config", "synthetic_small", "--exp-dir", str(tmp_path / "exp")]
    for s in TINY + [f"data.visual_store={vis}", f"data.audio_store={aud}", f"data.train_manifest={train}"]:
        args += ["--set", s]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "avforge"]
    res = subprocess.run(cmd + args, capture_output=True, text=True, timeout=180,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.splitlines()
    assert sum(x.startswith("epoch 2/2") for x in lines) == 1  # only rank 0 reports
    assert sum(x.startswith("sync epoch 2/2") for x in lines) == 1  # the sync stage ran under DDP too
    last = list_checkpoints(tmp_path / "exp" / "checkpoints")[-1]
    state = json.loads((last / "state.json").read_text())
    assert state["world_size"] == 2 and state["step"] == 4 and state["epoch"] == 2
    assert sorted(p.name for p in last.glob("rng_rank*.json")) == ["rng_rank0.json", "rng_rank1.json"]

    # resuming a 2-process run with 1 process is refused in one line (its RNG streams differ)
    rc = main(args[:-2] + ["--set", "train.epochs=3"] + args[-2:])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "resume with the same number" in err
