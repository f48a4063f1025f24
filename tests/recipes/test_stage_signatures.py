"""Recipe stage signatures (recipes/common/pipeline.sh), with every avforge call stubbed: fast.

A stage re-runs when what it produces would change (option values, the content of the weights and
metadata files, the config's parsed content), never for how it is run (``--ngpu``)."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STUB = f"""#!/usr/bin/env bash
if [ "$1" = -c ]; then exec {sys.executable} "$@"; fi  # the recipe's own python snippets (the config's signature)
echo "$*" >> "$AVF_CALLS"
"""


def recipe(tmp_path, *args):
    """Run recipes/lavdf/run.sh with `python` stubbed; the stages that ran (and the calls made)."""
    calls = tmp_path / "calls.log"
    calls.write_text("")
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", AVF_CALLS=str(calls))
    proc = subprocess.run(["bash", str(REPO / "recipes/lavdf/run.sh"), "--data_root", str(tmp_path / "data"),
                           "--exp_dir", str(tmp_path / "exp"), "--config", str(tmp_path / "cfg.yaml"), *args],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = [int(line.split("stage ")[1].split(" ")[0]) for line in proc.stdout.splitlines()
           if line.endswith(": done") and " stage " in line]
    return ran, calls.read_text()


def test_signatures_follow_content_not_launch(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text(STUB)
    (tmp_path / "bin" / "python").chmod(0o755)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "metadata.json").write_text("[]")
    (tmp_path / "cfg.yaml").write_text("train:\n  epochs: 2\n")
    (tmp_path / "w.pth").write_bytes(b"weights v1")
    weights = ["--lip_weights", str(tmp_path / "w.pth")]

    ran, calls = recipe(tmp_path, *weights)
    assert ran == list(range(8)) and "train --config" in calls
    (tmp_path / "exp" / "train" / "model.ckpt").write_text("trained")  # what training left
    (tmp_path / "exp" / "raw" / "test" / "a.npz").write_text("raw")  # and inference

    # how it runs: --ngpu 2 (torchrun) changes nothing that was done
    assert recipe(tmp_path, *weights, "--ngpu", "2") == ([], "")

    # the config's comments and layout: nothing re-runs (it is signed by its parsed content)
    (tmp_path / "cfg.yaml").write_text("# two epochs\ntrain: {epochs: 2}  # flow style\n")
    assert recipe(tmp_path, *weights) == ([], "")

    # its postprocess section: post-processing alone re-runs, reading the config as it is now; its infer
    # section: inference too (the raw outputs of the same checkpoint made again), never training
    (tmp_path / "cfg.yaml").write_text("train: {epochs: 2}\npostprocess: {max_proposals: 50}\n")
    ran, calls = recipe(tmp_path, *weights)
    assert ran == [6, 7] and f"postprocess --raw {tmp_path}/exp/raw/test" in calls
    assert f"--config {tmp_path}/cfg.yaml --nms soft" in calls
    (tmp_path / "cfg.yaml").write_text("train: {epochs: 2}\npostprocess: {max_proposals: 50}\ninfer: {window_s: 10}\n")
    assert recipe(tmp_path, *weights)[0] == [5, 6, 7]
    assert (tmp_path / "exp" / "train" / "model.ckpt").read_text() == "trained"
    assert not list((tmp_path / "exp").glob("train.replaced.*"))

    # the config's content, at the same path: training and everything after it re-run
    (tmp_path / "cfg.yaml").write_text("train:\n  epochs: 3\n")
    ran, calls = recipe(tmp_path, *weights, "--ngpu", "2")
    assert ran == [4, 5, 6, 7] and "torch.distributed.run --standalone --nproc_per_node 2 -m avforge train" in calls
    assert (tmp_path / "exp" / "train.replaced.1" / "model.ckpt").read_text() == "trained"  # kept, not resumed
    assert not (tmp_path / "exp" / "train" / "model.ckpt").exists()
    assert not (tmp_path / "exp" / "raw" / "test" / "a.npz").exists()  # its raw outputs: a stale cache
    assert recipe(tmp_path, *weights)[0] == []

    # a --set override re-runs training; the weights' content re-runs visual features and what
    # follows, and training starts anew on the new features (resuming would keep the old model)
    lr = ["--train_set", "train.lr=1e-4"]
    ran, calls = recipe(tmp_path, *weights, *lr)
    assert ran == [4, 5, 6, 7]  # the overrides also reach inference and post-processing, as --set on the config
    assert calls.count(f"--config {tmp_path}/cfg.yaml --set train.lr=1e-4") == 2  # predict, postprocess
    (tmp_path / "w.pth").write_bytes(b"weights v2")
    assert recipe(tmp_path, *weights, *lr)[0] == [2, 3, 4, 5, 6, 7]
    # a killed training (same inputs, no done marker) resumes in its folder: nothing moved
    (tmp_path / "exp" / "train" / "model.ckpt").write_text("half")
    (tmp_path / "exp" / "raw" / "test" / "a.npz").write_text("raw")
    (tmp_path / "exp" / "done" / "stage_4").unlink()
    assert recipe(tmp_path, *weights, *lr)[0] == [4, 5, 6, 7]
    assert (tmp_path / "exp" / "train" / "model.ckpt").read_text() == "half"
    assert (tmp_path / "exp" / "raw" / "test" / "a.npz").read_text() == "raw"  # same training: resumed
    assert len(list((tmp_path / "exp").glob("train.replaced.*"))) == 3

    # edited metadata: manifests and everything after them
    (tmp_path / "data" / "metadata.json").write_text('[{"file": "a.mp4"}]')
    assert recipe(tmp_path, *weights, *lr)[0] == [1, 2, 3, 4, 5, 6, 7]
    assert len(list((tmp_path / "exp").glob("train.replaced.*"))) == 4


def test_config_auto_sizes_the_model_by_the_training_split(tmp_path):
    """--config auto (the LAV-DF / AV-Deepfake1M recipes' default): fewer than --small_data_videos training
    videos train synthetic_small (as --small_data_members members with --members auto), more the dataset's config
    (one member); the choice is signed like a given config, and a member is signed without the member count."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text(STUB)
    (tmp_path / "bin" / "python").chmod(0o755)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "metadata.json").write_text("[]")
    manifest = tmp_path / "exp" / "manifests" / "train.jsonl"
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"file": "a.mp4"}\n' * 3)  # what stage 1 wrote (the stub writes nothing)

    def auto(*args):
        calls = tmp_path / "calls.log"
        calls.write_text("")
        env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", AVF_CALLS=str(calls))
        proc = subprocess.run(["bash", str(REPO / "recipes/lavdf/run.sh"), "--data_root", str(tmp_path / "data"),
                               "--exp_dir", str(tmp_path / "exp"), *args], env=env, capture_output=True, text=True,
                              timeout=60)
        trains = [line for line in calls.read_text().splitlines() if " train --config " in line]
        return proc, [line.split(" train --config ")[1].split()[0] for line in trains]

    proc, configs = auto()
    assert proc.returncode == 0, proc.stderr
    # the small model comes as three members (--members auto), trained side by side on CPU (--member_jobs auto)
    assert ("config auto: 3 training videos -> avforge/configs/synthetic_small.yaml, 3 members (members auto)"
            in proc.stdout) and "stage 4: 3 members, 3 at a time" in proc.stdout
    assert configs == ["avforge/configs/synthetic_small.yaml"] * 3
    predict = [line for line in (tmp_path / "calls.log").read_text().splitlines() if line.startswith("-m avforge predict")]
    assert [a for a in predict[0].split() if "/exp/train" in a] == [
        f"{tmp_path}/exp/train", f"{tmp_path}/exp/train.member2", f"{tmp_path}/exp/train.member3"]
    members = tmp_path / "exp" / "members.txt"  # what `avforge infer --checkpoint exp` loads
    assert members.read_text() == "train\ntrain.member2\ntrain.member3\n"
    assert auto()[1] == []  # done: the same choice, nothing re-runs
    (tmp_path / "exp" / "train" / "model.ckpt").write_text("trained")
    # one member asked for: the first is that member (same seed and inputs), kept, not moved aside
    proc, configs = auto("--members", "1")
    assert proc.returncode == 0 and configs == ["avforge/configs/synthetic_small.yaml"]
    assert (tmp_path / "exp" / "train" / "model.ckpt").exists() and not list((tmp_path / "exp").glob("*.replaced.*"))
    assert members.read_text() == "train\n"
    proc, configs = auto("--small_data_videos", "3")
    assert proc.returncode == 0 and configs == ["avforge/configs/lavdf.yaml"]  # another model, one member: retrained
    assert "members auto" not in proc.stdout and (tmp_path / "exp" / "train.replaced.1" / "model.ckpt").exists()
    assert auto("--small_data_videos", "3", "--config", "lavdf")[1] == []  # the same config, named
    proc, _ = auto("--small_data_videos", "many")
    assert proc.returncode == 2 and "--small_data_videos must be a whole number, got 'many'" in proc.stderr
    proc, _ = auto("--small_data_members", "0")
    assert proc.returncode == 2 and "--small_data_members must be a whole number >= 1, got '0'" in proc.stderr


def test_a_training_signed_by_the_whole_config_is_kept(tmp_path):
    """Markers written before the infer / postprocess sections were signed apart (the whole config's parsed
    content) are the same training: they take the new signature, nothing is retrained or moved aside."""
    import hashlib
    import json

    import yaml

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text(STUB)
    (tmp_path / "bin" / "python").chmod(0o755)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "metadata.json").write_text("[]")
    text = "train: {epochs: 2}\ninfer: {window_s: 10}\npostprocess: {max_proposals: 50}\n"
    (tmp_path / "cfg.yaml").write_text(text)
    assert recipe(tmp_path)[0] == list(range(8))
    (tmp_path / "exp" / "train" / "model.ckpt").write_text("trained")

    def sha(value):
        return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()

    parsed = yaml.safe_load(text)
    new = sha({"train": parsed["train"]})
    marker, member = tmp_path / "exp" / "done" / "stage_4", tmp_path / "exp" / "train" / "recipe_signature"
    current = marker.read_text(), member.read_text()
    assert all(new in m for m in current)
    for path, value in zip((marker, member), current):  # as the release before wrote them
        path.write_text(value.replace(new, sha(parsed)))
    stage_5 = tmp_path / "exp" / "done" / "stage_5"
    stage_5.write_text(stage_5.read_text().split("config_infer")[0])

    ran, calls = recipe(tmp_path)
    assert ran == [5, 6, 7] and " train " not in calls  # inference re-runs (its signature is new), training does not
    assert (marker.read_text(), member.read_text()) == current
    assert (tmp_path / "exp" / "train" / "model.ckpt").read_text() == "trained"
    assert not list((tmp_path / "exp").glob("train.replaced.*"))
