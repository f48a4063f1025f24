"""The recipes as users run them: stages, done markers, resumption, real dataset layouts."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from avforge.features.store import INDEX_NAME as STORE_INFO

REPO = Path(__file__).resolve().parents[2]
SMALL_MODEL = "train.batch_size=4 model.dim=16 model.attn_heads=2 data.max_frames=128 model.sync_pretrain_epochs=0"
TINY = ["--n_clips", "24", "--workers", "1", "--train_set", "train.epochs=2 " + SMALL_MODEL]
# Measured on these 24 clips (seed 0), with the quality head that learns from partial proposals: AP@0.5
# 0.014 after 6 epochs, 0.000 after 2 (about an untrained model; 0.044 / 0.002 with the head before). The
# end-to-end test trains 6 (~10 s more) and needs 0.007: a recipe that trains on the wrong labels or scores
# the wrong proposals stays near 0.
LEARNS = ["--n_clips", "24", "--workers", "1", "--train_set", "train.epochs=6 " + SMALL_MODEL]
LEARNED_AP50 = 0.007


def run_recipe(name, *args, cwd=REPO):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", HF_HUB_OFFLINE="1",
               OMP_NUM_THREADS="1")
    proc = subprocess.run(["bash", str(REPO / "recipes" / name / "run.sh"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def stage_lines(out):
    return [line.split(" ", 1)[1] for line in out.splitlines() if " stage " in line[:20]]


@pytest.mark.slow
def test_synthetic_recipe_end_to_end_resumes_and_reruns_postprocessing(tmp_path):
    common = ["--data_root", str(tmp_path / "data"), "--exp_dir", str(tmp_path / "exp"), *LEARNS]
    out = run_recipe("synthetic", *common)
    metrics = json.loads((tmp_path / "exp" / "metrics_test.json").read_text())
    assert metrics["protocol"] == "avdeepfake1m" and metrics["split"] == "test"
    assert metrics["ap"]["0.5"] > LEARNED_AP50 and metrics["auc"] is not None
    assert "AP@0.5" in out  # the metrics table is printed
    # word edges (the synthetic recipe's default): stage 1 wrote the training videos' word timings
    words = (tmp_path / "exp" / "manifests" / "train.words.jsonl").read_text().splitlines()
    assert len(words) == len((tmp_path / "exp" / "manifests" / "train.jsonl").read_text().splitlines())
    config = (tmp_path / "exp" / "train" / "config.yaml").read_text()
    assert "word_edges: true" in config and "splice_at_words: false" in config and "train.words.jsonl" in config

    again = stage_lines(run_recipe("synthetic", *common))
    assert len(again) == 8 and all(line.endswith("done, skipped") for line in again)

    proposals = tmp_path / "exp" / "proposals" / "test.json"
    before = json.loads(proposals.read_text())
    rerun = stage_lines(run_recipe("synthetic", *common, "--stage", "6", "--nms", "hard", "--nms_iou", "0.9",
                                   "--top_k", "3"))
    settings = (tmp_path / "exp" / "log" / "stage_6.log").read_text()
    assert "'method': 'nms'" in settings and "'nms_iou': 0.9" in settings
    assert [line.split(")")[0] for line in rerun if line.endswith(": done")] == ["stage 6 (post-process",
                                                                                 "stage 7 (report"]
    after = json.loads(proposals.read_text())
    assert before.keys() == after.keys() and all(len(v) <= 3 for v in after.values())
    assert any(len(v) > 3 for v in before.values())


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["lavdf", "avdeepfake1m"])
def test_real_dataset_recipes_on_generated_trees(tmp_path, layout):
    data = tmp_path / layout
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    subprocess.run([sys.executable, "-m", "avforge", "synth", "--out", str(data), "--n", "24", "--seed", "1",
                    "--layout", layout, "--workers", "1", "--min-duration", "4", "--max-duration", "5"],
                   check=True, env=env, capture_output=True)
    common = ["--data_root", str(data), "--exp_dir", str(tmp_path / "exp"), "--train_set", TINY[-1]]
    if layout == "lavdf":
        out = run_recipe("lavdf", *common, "--splice_at_words", "true", "--word_edges", "false")
        # --config auto: a training split this small trains the small model, three of them as one (--members auto)
        assert ("config auto: 12 training videos -> avforge/configs/synthetic_small.yaml, 3 members (members auto)"
                in out), out
        index = json.loads((tmp_path / "exp" / "raw" / "test" / "index.json").read_text())
        assert [Path(m).parts[-3] for m in index["members"]] == ["train", "train.member2", "train.member3"]
        # one video, as an analyst runs it after the recipe: the experiment folder is the model it scored
        video = next(r["file"] for r in json.loads((data / "metadata.json").read_text()) if r["split"] == "test")
        subprocess.run([sys.executable, "-m", "avforge", "infer", str(data / video), "--checkpoint",
                        str(tmp_path / "exp"), "--out", str(tmp_path / "one.json")], check=True, env=env,
                       capture_output=True)
        details = json.loads((tmp_path / "one.details.json").read_text())
        assert [Path(m).parts[-3] for m in details["members"]] == ["train", "train.member2", "train.member3"]
        metrics = json.loads((tmp_path / "exp" / "metrics_test.json").read_text())
        assert metrics["protocol"] == "lavdf" and metrics["split"] == "test"
        # scored on exactly the test records of the metadata, with LAV-DF's thresholds and caps
        test = [r for r in json.loads((data / "metadata.json").read_text()) if r["split"] == "test"]
        assert (metrics["n_videos"], metrics["n_fake_videos"], metrics["n_segments"]) == (
            len(test), sum(bool(r["fake_periods"]) for r in test), sum(len(r["fake_periods"]) for r in test))
        assert 0 < metrics["n_proposals"] <= 100 * len(test)
        assert list(metrics["ap"]) == ["0.5", "0.75", "0.95"] and list(metrics["ar"]) == ["100", "50", "20", "10"]
    else:  # the test split is unlabelled, as in the real dataset: the recipe exports a submission
        out = run_recipe("avdeepfake1m", *common, "--test_split", "test", "--members", "2", "--member_jobs", "2")
        files = (data / "test_files.txt").read_text().split()
        check = subprocess.run([sys.executable, "-m", "avforge", "validate-submission",
                                str(tmp_path / "exp" / "submission.zip"), "--files", str(data / "test_files.txt")],
                               capture_output=True, text=True, env=env)
        assert check.returncode == 0 and check.stdout.startswith("OK"), check.stderr
        assert f"{len(files)} videos" in check.stdout
        # --members 2: a second detector with the next seed, and the submission comes from both together
        member = tmp_path / "exp" / "train.member2"
        assert "seed: 1" in (member / "config.yaml").read_text()
        assert "seed: 0" in (tmp_path / "exp" / "train" / "config.yaml").read_text()
        index = json.loads((tmp_path / "exp" / "raw" / "test" / "index.json").read_text())
        assert [Path(m).parts[-3] for m in index["members"]] == ["train", "train.member2"]
        # --member_jobs 2: trained side by side, each logging to its own folder
        assert "2 members, 2 at a time with OMP_NUM_THREADS=1 each" in out
        for done in ("member 1 done", "member 2 done"):
            assert done in out
        for folder in ("train", "train.member2"):
            assert "epoch 2/2" in (tmp_path / "exp" / folder / "train.log").read_text()
        for kind in ("visual", "audio"):  # AV-Deepfake1M's size: float16 features in a few packed files
            storage = json.loads((tmp_path / "exp" / "features" / kind / STORE_INFO).read_text())["storage"]
            assert storage == {"dtype": "float16", "layout": "packed"}
    # word timings, written by stage 1 and read by training: LAV-DF here cuts pseudo-forgeries at them
    # (--splice_at_words true) without the word-edge target (on by default); AV-Deepfake1M the defaults
    words_file = tmp_path / "exp" / "manifests" / "train.words.jsonl"
    config = (tmp_path / "exp" / "train" / "config.yaml").read_text()
    words = dict(json.loads(line) for line in words_file.read_text().splitlines())
    train = (tmp_path / "exp" / "manifests" / "train.jsonl").read_text().splitlines()
    assert len(words) == len(train) and all(len(w) > 3 for w in words.values())
    assert f"train_words: {words_file}" in config
    splice, edges = ("true", "false") if layout == "lavdf" else ("false", "true")
    assert f"splice_at_words: {splice}" in config and f"word_edges: {edges}" in config


def test_recipe_rejects_unknown_option_and_missing_data(tmp_path):
    proc = subprocess.run(["bash", str(REPO / "recipes/lavdf/run.sh"), "--no_such_flag", "1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown option --no_such_flag" in proc.stderr
    proc = subprocess.run(["bash", str(REPO / "recipes/lavdf/run.sh"), "--word_edges", "yes"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--word_edges must be true or false, got 'yes'" in proc.stderr
    proc = subprocess.run(["bash", str(REPO / "recipes/lavdf/run.sh"), "--members", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--members must be a whole number >= 1 or auto, got '0'" in proc.stderr
    proc = subprocess.run(["bash", str(REPO / "recipes/lavdf/run.sh"), "--member_jobs", "2", "--ngpu", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--member_jobs above 1 shares one device" in proc.stderr
    proc = subprocess.run(["bash", str(REPO / "recipes/lavdf/run.sh"), "--data_root", str(tmp_path),
                           "--exp_dir", str(tmp_path / "exp"), "--stop_stage", "0"], capture_output=True, text=True)
    assert proc.returncode == 1 and "no metadata.json" in proc.stdout
    assert "stage 0 (data): FAILED" in proc.stderr and not (tmp_path / "exp" / "done" / "stage_0").exists()


def test_synthetic_recipe_never_replaces_what_is_not_its_dataset(tmp_path):
    """Stage 0 replaces --data_root (avforge synth --force): refused, before anything is written, when the
    experiment folder lies inside it or it holds files that are not a synthetic dataset."""
    def run(data, exp):
        return subprocess.run(["bash", str(REPO / "recipes/synthetic/run.sh"), "--data_root", str(data),
                               "--exp_dir", str(exp), "--n_clips", "8", "--stop_stage", "0"],
                              capture_output=True, text=True, timeout=120)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    proc = run(mine, tmp_path / "exp")
    assert proc.returncode == 2 and f"--data_root {mine} holds files that are not a synthetic dataset" in proc.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"] and not (tmp_path / "exp").exists()
    proc = run(tmp_path / "data", tmp_path / "data" / "exp")
    assert proc.returncode == 2 and "--exp_dir" in proc.stderr and "is inside --data_root" in proc.stderr
    assert not (tmp_path / "data").exists()


def test_members_side_by_side_fail_together_and_leave_no_done_marker(tmp_path):
    """--member_jobs 2: every member that fails is named with its log, and stage 4 is not marked done; without
    OMP_NUM_THREADS each member gets the cores shared by the members of its round (the last, alone: all)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "metadata.json").write_text("[]")
    exp = tmp_path / "exp"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run(["bash", str(REPO / "recipes/lavdf/run.sh"), "--data_root", str(tmp_path / "data"),
                           "--exp_dir", str(exp), "--stage", "4", "--stop_stage", "4", "--members", "3",
                           "--member_jobs", "2", "--config", "lavdf"], capture_output=True, text=True,
                          env=dict(env, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}"))
    assert proc.returncode == 1 and "stage 4 (train): FAILED" in proc.stderr
    cores = len(os.sched_getaffinity(0))
    for k, folder, threads in ((1, "train", cores // 2), (2, "train.member2", cores // 2), (3, "train.member3", cores)):
        assert f"member {k} of 3 (seed {k - 1}) in {exp / folder} with OMP_NUM_THREADS={max(threads, 1)}," in proc.stdout
        # no features: each one fails
        assert f"member {k} FAILED (exit 2), see {exp / folder / 'train.log'}" in proc.stdout
        assert "not a feature store" in (exp / folder / "train.log").read_text()
    assert not (exp / "done" / "stage_4").exists()
