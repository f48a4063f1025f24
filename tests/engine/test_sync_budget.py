"""The sync stage's budget in steps: few real clips at a large batch still train the sync towers."""
import pytest

from avforge.cli.main import main
from avforge.core.errors import AvforgeError
from avforge.engine.checkpoint import list_checkpoints
from avforge.models.config import DetectorConfig
from engine_toys import make_feature_data

TINY = ["model.dim=16", "model.attn_heads=2", "model.pyramid_strides=[1,2]",
        "model.regress_ranges_frames=[[0,8],[8,100000]]", "train.epochs=1", "train.batch_size=4",
        "train.warmup_epochs=0", "data.max_frames=64", "model.sync_dim=8"]


def _train(tmp_path, capsys, *sets):
    vis, aud, train = make_feature_data(tmp_path, [60, 80, 70, 90, 64, 75, 66, 88])  # 4 real clips: 1 step/epoch
    argv = ["train", "--config", "lavdf", "--exp-dir", str(tmp_path / "exp")]
    for s in TINY + [f"data.visual_store={vis}", f"data.audio_store={aud}", f"data.train_manifest={train}",
                     "train.amp=none", "train.num_workers=0", *sets]:
        argv += ["--set", s]
    assert main(argv) == 0
    return capsys.readouterr().out, list_checkpoints(tmp_path / "exp" / "sync" / "checkpoints")


def test_min_steps_raise_the_epochs_of_a_small_dataset(tmp_path, capsys):
    out, ckpts = _train(tmp_path / "a", capsys, "model.sync_pretrain_epochs=2", "model.sync_pretrain_min_steps=5")
    assert "sync stage: 5 epochs (raised from 2 to reach 5 steps) on 4 real clips (batch 4)" in out
    assert ckpts[-1].name.endswith("00005")  # 5 steps were taken
    out, ckpts = _train(tmp_path / "b", capsys, "model.sync_pretrain_epochs=3", "model.sync_pretrain_min_steps=2")
    assert "sync stage: 3 epochs on 4 real clips" in out and ckpts[-1].name.endswith("00003")  # epochs suffice


def test_negative_min_steps_are_a_config_error():
    with pytest.raises(AvforgeError, match="sync_pretrain_min_steps"):
        DetectorConfig(sync=True, sync_pretrain_min_steps=-1)
