"""avforge train -> predict -> postprocess on tiny feature stores; bad checkpoints and configs."""
import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from avforge.cli.main import main
from avforge.engine.checkpoint import MODEL_FILE, list_checkpoints
from avforge.engine.config import load_experiment
from avforge.engine.inference import load_predictor, predict_features
from avforge.features.store import FeatureStore
from engine_toys import make_feature_data

TINY = ["model.dim=16", "model.attn_heads=2", "model.pyramid_strides=[1,2]",
        "model.regress_ranges_frames=[[0,8],[8,100000]]", "train.epochs=1", "train.batch_size=4",
        "train.warmup_epochs=0", "data.max_frames=64", "infer.window_s=3.2", "infer.overlap_s=1.6",
        "model.sync_pretrain_epochs=2"]


def run_cli(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    vis, aud, train = make_feature_data(root, [60, 80, 70, 90, 64, 75, 66, 88])
    _, _, test = make_feature_data(root, [50, 230, 40], name="test", seed=1)  # 230 frames: several windows
    sets = TINY + [f"data.visual_store={vis}", f"data.audio_store={aud}", f"data.train_manifest={train}",
                   f"data.val_manifest={test}"]
    argv = ["train", "--config", "synthetic_small", "--exp-dir", str(root / "exp")]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 0
    return {"root": root, "vis": vis, "aud": aud, "test": test, "exp": root / "exp"}


def test_train_writes_config_metrics_and_checkpoint(trained):
    exp = trained["exp"]
    cfg = load_experiment(exp / "config.yaml")
    assert cfg.model.dim == 16 and cfg.train.epochs == 1 and cfg.model.pyramid_strides == (1, 2)
    metrics = [json.loads(x) for x in (exp / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["epoch"] == 1 and {"total", "frame", "cls", "reg"} <= set(metrics[0]["train"])
    assert "val" in metrics[0]
    assert [p.name for p in list_checkpoints(exp / "checkpoints")] == ["step_00000002"]


def test_predict_then_postprocess(trained, capsys, tmp_path):
    raw = tmp_path / "raw"
    rc, out, err = run_cli(["predict", "--checkpoint", str(trained["exp"]), "--manifest", str(trained["test"]),
                            "--out", str(raw)], capsys)  # stores come from the checkpoint's config
    assert rc == 0, err
    index = json.loads((raw / "index.json").read_text())
    assert index["complete"] and index["files"] == ["test/000.mp4", "test/001.mp4", "test/002.mp4"]
    assert index["infer"] == {"window_s": 3.2, "overlap_s": 1.6, "batch_windows": 4}

    out_json = tmp_path / "pp" / "proposals.json"
    rc, out, err = run_cli(["postprocess", "--raw", str(raw), "--out", str(out_json), "--top-k", "7"], capsys)
    assert rc == 0, err
    proposals = json.loads(out_json.read_text())
    modality = json.loads((tmp_path / "pp" / "proposals.modality.json").read_text())
    scores = json.loads((tmp_path / "pp" / "video_scores.json").read_text())
    assert list(proposals) == list(modality) == list(scores) == index["files"]
    durations = {"test/000.mp4": 2.0, "test/001.mp4": 9.2, "test/002.mp4": 1.6}
    for file, rows in proposals.items():
        assert 0 < len(rows) <= 7 and len(modality[file]) == len(rows)
        assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)
        assert all(0 <= s < e <= durations[file] + 1e-9 for _, s, e in rows)
        assert set(modality[file]) <= {"audio", "visual", "both"}
    # each file's score is its own: the checkpoint's video score on that file's stored features
    # (the max over its windows: test/001.mp4 has several), not a default or another file's
    pred = load_predictor(trained["exp"])
    vis, aud = FeatureStore(trained["vis"]), FeatureStore(trained["aud"])
    for file in index["files"]:
        direct = predict_features(pred, file, vis.load(file).data, aud.load(file).data).video_score
        assert scores[file] == pytest.approx(direct, abs=1e-6)
    assert len({round(s, 4) for s in scores.values()}) == 3

    # re-run post-processing alone with other settings: no suppression keeps more
    rc, _, err = run_cli(["postprocess", "--raw", str(raw), "--out", str(tmp_path / "none.json"),
                          "--nms", "none", "--top-k", "0", "--video-scores", str(tmp_path / "vs.json")], capsys)
    assert rc == 0, err
    unsuppressed = json.loads((tmp_path / "none.json").read_text())
    assert sum(map(len, unsuppressed.values())) > sum(map(len, proposals.values()))


def test_infer_and_postprocess_settings_from_an_edited_config(trained, capsys, tmp_path):
    """--config: the infer / postprocess sections of a config as it is now, not as it was at training."""
    cfg = tmp_path / "edited.yaml"
    cfg.write_text("infer: {window_s: 6.4, overlap_s: 3.2}\npostprocess: {max_proposals: 3}\n")
    raw = tmp_path / "raw"
    rc, _, err = run_cli(["predict", "--checkpoint", str(trained["exp"]), "--manifest", str(trained["test"]),
                          "--out", str(raw), "--config", str(cfg), "--set", "infer.batch_windows=2"], capsys)
    assert rc == 0, err
    assert json.loads((raw / "index.json").read_text())["infer"] == {"window_s": 6.4, "overlap_s": 3.2,
                                                                     "batch_windows": 2}
    counts = {}
    for name, extra in (("checkpoint", []), ("config", ["--config", str(cfg)]),
                        ("set", ["--config", str(cfg), "--set", "postprocess.max_proposals=2"]),
                        ("flag", ["--config", str(cfg), "--top-k", "5"])):
        out = tmp_path / name / "p.json"
        rc, _, err = run_cli(["postprocess", "--raw", str(raw), "--out", str(out), *extra], capsys)
        assert rc == 0, err
        counts[name] = max(map(len, json.loads(out.read_text()).values()))
    assert counts == {"checkpoint": 100, "config": 3, "set": 2, "flag": 5}  # the checkpoint's config keeps 100

    rc, _, err = run_cli(["postprocess", "--raw", str(raw), "--out", str(tmp_path / "x.json"),
                          "--set", "postprocess.max_proposals=2"], capsys)
    assert_one_line_error(rc, err, "--set", "--config")
    assert not (tmp_path / "x.json").exists()


def _train_member(exp, vis, aud, manifest, *sets):
    argv = ["train", "--config", "synthetic_small", "--exp-dir", str(exp)]
    for s in TINY + [f"data.visual_store={vis}", f"data.audio_store={aud}", f"data.train_manifest={manifest}", *sets]:
        argv += ["--set", s]
    assert main(argv) == 0


def test_predict_with_an_ensemble_of_checkpoints(trained, capsys, tmp_path):
    """Two checkpoints given: one raw folder whose outputs are the members' mean (logits averaged)."""
    _train_member(tmp_path / "seed1", trained["vis"], trained["aud"], trained["root"] / "train.jsonl", "train.seed=1")
    raw = tmp_path / "raw"
    rc, out, err = run_cli(["predict", "--checkpoint", str(trained["exp"]), "--checkpoint", str(tmp_path / "seed1"),
                            "--manifest", str(trained["test"]), "--out", str(raw)], capsys)
    assert rc == 0 and "an ensemble of 2 checkpoints" in out, err
    index = json.loads((raw / "index.json").read_text())
    assert index["complete"] and len(index["members"]) == 2 and index["members"][0] == index["checkpoint"]
    vis, aud = FeatureStore(trained["vis"]), FeatureStore(trained["aud"])
    file = "test/001.mp4"  # several windows: stitched like one detector's
    a, b = (predict_features(load_predictor(e), file, vis.load(file).data, aud.load(file).data)
            for e in (trained["exp"], tmp_path / "seed1"))
    ens = predict_features(load_predictor([trained["exp"], tmp_path / "seed1"]), file, vis.load(file).data,
                           aud.load(file).data)
    logit = lambda p: torch.logit(torch.as_tensor(p, dtype=torch.float64), eps=1e-7)  # noqa: E731
    for key in ("fused", "visual", "audio"):
        expected = torch.sigmoid((logit(a.frame_probs[key]) + logit(b.frame_probs[key])) / 2)
        assert torch.allclose(torch.as_tensor(ens.frame_probs[key], dtype=torch.float64), expected, atol=1e-5), key
    assert min(a.video_score, b.video_score) <= ens.video_score <= max(a.video_score, b.video_score)
    assert a.video_score != b.video_score
    # the folder belongs to that ensemble: one member alone may not resume into it
    rc, _, err = run_cli(["predict", "--checkpoint", str(trained["exp"]), "--manifest", str(trained["test"]),
                          "--out", str(raw)], capsys)
    assert_one_line_error(rc, err, "another checkpoint")

    # a recipe's experiment folder stands for the members its members.txt lists (what the recipe scored)
    recipe = tmp_path / "exp_recipe"
    recipe.mkdir()
    shutil.copytree(trained["exp"], recipe / "train")
    shutil.copytree(tmp_path / "seed1", recipe / "train.member2")
    rc, _, err = run_cli(["predict", "--checkpoint", str(recipe), "--manifest", str(trained["test"]),
                          "--out", str(tmp_path / "raw_recipe")], capsys)
    assert_one_line_error(rc, err, "no checkpoint here", "members.txt once training is done")
    (recipe / "members.txt").write_text("train\ntrain.member2\n")
    by_folder = predict_features(load_predictor(recipe), file, vis.load(file).data, aud.load(file).data)
    assert by_folder.video_score == ens.video_score
    assert np.array_equal(by_folder.frame_probs["fused"], ens.frame_probs["fused"])
    (recipe / "members.txt").write_text("train\n../seed1\n")
    rc, _, err = run_cli(["predict", "--checkpoint", str(recipe), "--manifest", str(trained["test"]),
                          "--out", str(tmp_path / "raw_recipe")], capsys)
    assert_one_line_error(rc, err, "members.txt", "one training folder name per line, found '../seed1'")
    assert not (tmp_path / "raw_recipe").exists()


def test_ensemble_members_must_read_the_same_features(trained, capsys, tmp_path):
    _train_member(tmp_path / "other", *make_feature_data(tmp_path, [60, 80, 70, 90], visual_dim=9, name="other"))
    rc, _, err = run_cli(["predict", "--checkpoint", str(trained["exp"]), "--checkpoint", str(tmp_path / "other"),
                          "--manifest", str(trained["test"]), "--out", str(tmp_path / "raw")], capsys)
    assert_one_line_error(rc, err, "was trained on other visual features", "(dim: 9 vs 6)")
    assert not (tmp_path / "raw").exists()


def assert_one_line_error(rc, err, *needles):
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    for n in needles:
        assert n in err, err


def test_missing_checkpoint(trained, capsys, tmp_path):
    rc, _, err = run_cli(["predict", "--checkpoint", str(tmp_path / "nope"), "--manifest", str(trained["test"]),
                          "--out", str(tmp_path / "raw")], capsys)
    assert_one_line_error(rc, err, "checkpoint not found", "nope")
    assert not (tmp_path / "raw").exists()


def test_checkpoint_for_other_feature_dims(trained, capsys, tmp_path):
    vis, aud, man = make_feature_data(tmp_path, [40], visual_dim=9, name="other")
    rc, _, err = run_cli(["predict", "--checkpoint", str(trained["exp"]), "--manifest", str(man),
                          "--visual-store", str(vis), "--audio-store", str(aud), "--out", str(tmp_path / "raw")], capsys)
    assert_one_line_error(rc, err, "expects visual features with 6 channels, this store has 9")
    assert not (tmp_path / "raw").exists()


def test_weights_of_another_architecture(trained, capsys, tmp_path):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(list_checkpoints(trained["exp"] / "checkpoints")[-1], ckpt)
    weights = load_file(ckpt / MODEL_FILE)
    name = sorted(k for k in weights if weights[k].ndim == 2)[0]
    weights[name] = torch.zeros(weights[name].shape[0] + 1, weights[name].shape[1])
    save_file(weights, ckpt / MODEL_FILE)
    rc, _, err = run_cli(["predict", "--checkpoint", str(ckpt), "--manifest", str(trained["test"]),
                          "--out", str(tmp_path / "raw")], capsys)
    assert_one_line_error(rc, err, "does not match this model config", name)
    (ckpt / MODEL_FILE).write_bytes(b"garbage")
    rc, _, err = run_cli(["predict", "--checkpoint", str(ckpt), "--manifest", str(trained["test"]),
                          "--out", str(tmp_path / "raw")], capsys)
    assert_one_line_error(rc, err, "unreadable safetensors file")
    assert not (tmp_path / "raw").exists()


def test_postprocess_of_an_unfinished_or_missing_raw_folder(capsys, tmp_path):
    rc, _, err = run_cli(["postprocess", "--raw", str(tmp_path), "--out", str(tmp_path / "p.json")], capsys)
    assert_one_line_error(rc, err, "no index.json")
    assert not (tmp_path / "p.json").exists()


def test_sync_stage_trains_on_real_clips_then_the_detector_starts_from_it(tmp_path, capsys):
    vis, aud, train = make_feature_data(tmp_path, [60, 80, 70, 90, 64, 75, 66, 88])
    exp = tmp_path / "exp"
    argv = ["train", "--config", "synthetic_small", "--exp-dir", str(exp)]
    for s in TINY + ["model.sync=true", "model.sync_dim=8", "model.sync_pretrain_epochs=2", "model.w_sync=0.5",
                     f"data.visual_store={vis}", f"data.audio_store={aud}", f"data.train_manifest={train}"]:
        argv += ["--set", s]
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    assert "sync stage: 2 epochs on 4 real clips (batch 4)" in out  # fake_every=2: half the clips are real
    sync_ckpt = list_checkpoints(exp / "sync" / "checkpoints")[-1]
    sync_w = load_file(sync_ckpt / MODEL_FILE)
    assert sync_w and all(k.startswith("sync.") for k in sync_w)
    before = {k: v.clone() for k, v in sync_w.items()}
    # the detector's first checkpoint holds sync weights that started from the sync stage's
    det = load_file(list_checkpoints(exp / "checkpoints")[-1] / MODEL_FILE)
    assert {k for k in det if k.startswith("sync.")} == set(sync_w)
    metrics = [json.loads(x) for x in (exp / "metrics.jsonl").read_text().splitlines()]
    assert "sync" in metrics[0]["train"]
    # a re-run resumes: nothing is trained again, the sync stage's weights are untouched
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    again = load_file(list_checkpoints(exp / "sync" / "checkpoints")[-1] / MODEL_FILE)
    assert all(torch.equal(before[k], again[k]) for k in before)
    raw = tmp_path / "raw"
    rc, out, err = run_cli(["predict", "--checkpoint", str(exp), "--manifest", str(train), "--out", str(raw)], capsys)
    assert rc == 0, err
    from avforge.engine.rawcache import load_raw
    curve = load_raw(raw, "train/000.mp4").frame_probs["sync"]
    assert curve.shape == (60,) and 0 <= curve.min() and curve.max() <= 1 and curve.std() > 0


def test_sync_stage_with_few_real_clips(tmp_path, capsys):
    vis, aud, train = make_feature_data(tmp_path, [60, 80])  # 1 real clip
    argv = ["train", "--config", "synthetic_small", "--exp-dir", str(tmp_path / "exp")]
    sets = TINY + [f"data.visual_store={vis}", f"data.audio_store={aud}", f"data.train_manifest={train}"]
    for s in sets + ["train.batch_size=2", "train.grad_accum=2", "model.sync_real_spans=false"]:
        argv += ["--set", s]
    rc, out, err = run_cli(argv, capsys)
    assert rc == 2 and err.count("\n") == 1 and "trains on 1 real clip," in err and "sync_pretrain_epochs=0" in err
    # ... unless it also learns from the real spans of the forged clip
    rc, out, err = run_cli(argv[:4] + [str(tmp_path / "spans")] + argv[5:] + ["--set", "model.sync_real_spans=true"],
                           capsys)
    assert rc == 0, err
    assert "sync stage: 2 epochs on the real spans of 2 clips (batch 2)" in out
    # fewer real clips than a batch: the sync stage takes smaller batches
    vis, aud, train = make_feature_data(tmp_path / "b", [60, 80, 70, 90])  # 2 real clips, batch of 4
    argv = ["train", "--config", "synthetic_small", "--exp-dir", str(tmp_path / "b" / "exp")]
    for s in TINY + [f"data.visual_store={vis}", f"data.audio_store={aud}", f"data.train_manifest={train}",
                     "model.sync_real_spans=false"]:
        argv += ["--set", s]
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    assert "sync stage: 2 epochs on 2 real clips (batch 2)" in out
