"""Multi-node ``torchrun`` through the user's entry point: 2 "nodes" x 1 process on this machine,
meeting at a c10d rendezvous as two machines would (the README's multi-node command)."""
import json
import os
import socket
import subprocess
import sys

from avforge.engine.checkpoint import list_checkpoints
from engine_toys import make_feature_data
from test_engine_ddp_detector import TINY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_one_process_each_train_the_detector(tmp_path):
    vis, aud, train = make_feature_data(tmp_path, [60, 80, 70, 90, 64, 75, 66, 88])
    train_args = ["-m", "avforge", "train", "--config", "synthetic_small", "--exp-dir", str(tmp_path / "exp")]
    for s in TINY + [f"data.visual_store={vis}", f"data.audio_store={aud}", f"data.train_manifest={train}"]:
        train_args += ["--set", s]
    endpoint = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                               "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "avforge-test",
                               *train_args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outputs = [node.communicate(timeout=240) for node in nodes]
    for node, (_, err) in zip(nodes, outputs):
        assert node.returncode == 0, err[-3000:]
    lines = [x for out, _ in outputs for x in out.splitlines()]
    assert sum(x.startswith("epoch 2/2") for x in lines) == 1  # only global rank 0 reports
    state = json.loads((list_checkpoints(tmp_path / "exp" / "checkpoints")[-1] / "state.json").read_text())
    assert state["world_size"] == 2 and state["backend"] == "gloo" and state["step"] == 4
