"""A checkpoint travels alone: trained on features of pretrained encoders (a lip checkpoint file,
a saved speech-model folder), copied elsewhere without its stores or weights paths, it gives
the same proposals once the weights are pointed to again, and refuses other weights in one line."""
import json
import shutil

import numpy as np
import pytest
import torch
from transformers import WavLMConfig

from avforge.cli.main import main
from avforge.core.types import VideoRecord
from avforge.data.manifest import write_manifest
from avforge.engine.checkpoint import list_checkpoints
from avforge.engine.config import load_experiment
from avforge.engine.experiment import train_experiment
from avforge.features.base import build_seeded
from avforge.features.extract import VideoItem, extract
from avforge.features.lip_net import PRESETS, LipReadingNet
from avforge.features.registry import build_encoder
from avforge.features.store import FeatureStore
from avforge.io.writer import write_video
from test_cli_infer import FAKE, N_FRAMES, TINY, talking_clip

TINY_WAVLM = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                  conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)


@pytest.fixture(scope="module")
def portable(tmp_path_factory):
    """Weights in ``cluster/weights``, stores and experiment in ``cluster``; a detector trained."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    cluster = tmp_path_factory.mktemp("cluster")
    weights = cluster / "weights"
    weights.mkdir()
    torch.save(build_seeded(lambda: LipReadingNet(PRESETS["small"]), 11).state_dict(), weights / "vsr.pth")
    build_encoder("hf", config=WavLMConfig(**TINY_WAVLM), seed=12).net.save_pretrained(weights / "wavlm-tiny")
    records = []
    for i in range(4):
        fake = i % 2 == 1
        write_video(cluster / "videos" / f"{i:03d}.mp4", *talking_clip(i, fake))
        records.append(VideoRecord(file=f"{i:03d}.mp4", split="train", modify_type="both_modified" if fake else "real",
                                   fake_segments=(FAKE,) if fake else (), duration_s=N_FRAMES / 25,
                                   audio_fake_segments=(FAKE,) if fake else (),
                                   visual_fake_segments=(FAKE,) if fake else ()))
    write_manifest(cluster / "train.jsonl", records, cluster / "videos")
    items = [VideoItem(r.file, cluster / "videos" / r.file) for r in records]
    encoders = {"visual": build_encoder("lip-resnet", checkpoint=str(weights / "vsr.pth")),
                "audio": build_encoder("hf", model=str(weights / "wavlm-tiny"))}
    for modality, encoder in encoders.items():
        extract(items, encoder, FeatureStore(cluster / modality, encoder.spec), workers=0, progress=False)
    cfg = load_experiment("synthetic_small", TINY + [f"data.visual_store={cluster / 'visual'}",
                                                      f"data.audio_store={cluster / 'audio'}",
                                                      f"data.train_manifest={cluster / 'train.jsonl'}",
                                                      "train.epochs=1"])
    train_experiment(cfg, cluster / "exp")
    yield {"cluster": cluster, "weights": weights, "video": cluster / "videos" / "001.mp4"}
    torch.set_num_threads(before)


def infer(argv, capsys):
    rc = main(["infer", *map(str, argv)])
    return rc, capsys.readouterr().err


def test_checkpoint_folder_alone_gives_the_same_proposals(portable, capsys, tmp_path_factory):
    cluster, weights = portable["cluster"], portable["weights"]
    laptop = tmp_path_factory.mktemp("laptop")
    video = shutil.copy(portable["video"], laptop / "clip.mp4")
    here = laptop / "here.json"
    rc, err = infer([video, "--checkpoint", cluster / "exp", "--out", here, "--lip-weights", weights / "vsr.pth",
                     "--audio-encoder", weights / "wavlm-tiny"], capsys)
    assert rc == 0, err
    ckpt = shutil.copytree(list_checkpoints(cluster / "exp" / "checkpoints")[-1], laptop / "ckpt")
    (laptop / "w").mkdir()
    shutil.copy(weights / "vsr.pth", laptop / "w" / "lips.pth")  # another name: only the content counts
    shutil.copytree(weights / "wavlm-tiny", laptop / "w" / "speech")
    shutil.rmtree(cluster)  # stores, experiment and the original weights path are gone

    there = laptop / "there.json"
    rc, err = infer([video, "--checkpoint", ckpt, "--out", there, "--lip-weights", laptop / "w" / "lips.pth",
                     "--audio-encoder", laptop / "w" / "speech"], capsys)
    assert rc == 0, err
    a, b = json.loads(here.read_text()), json.loads(there.read_text())
    assert a.keys() == b.keys() and len(a[str(video)]) > 0
    np.testing.assert_allclose(np.asarray(b[str(video)]), np.asarray(a[str(video)]), atol=1e-6, rtol=0)

    torch.save(build_seeded(lambda: LipReadingNet(PRESETS["small"]), 99).state_dict(), laptop / "w" / "other.pth")
    for flags, expected in (([], "point to them with --lip-weights FILE"),
                            (["--lip-weights", laptop / "w" / "other.pth"], "wrong visual encoder weights"),
                            (["--lip-weights", laptop / "w" / "lips.pth"], "--audio-encoder NAME_OR_DIR")):
        out = laptop / "bad.json"
        rc, err = infer([video, "--checkpoint", ckpt, "--out", out, *flags], capsys)
        assert rc == 2 and expected in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    rc, err = infer([video, "--checkpoint", ckpt, "--lip-weights", laptop / "w" / "other.pth",
                     "--audio-encoder", laptop / "w" / "speech"], capsys)
    assert rc == 2 and "other.pth has sha256" in err and "vsr.pth (sha256" in err
