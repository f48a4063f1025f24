"""EncoderSpec: recorded as JSON, rebuilt by build_from_spec into the same encoder; weights named
by file name + content hash, re-pointed by the user, wrong weights a one-line error; old records."""
import json

import numpy as np
import pytest
import torch
from transformers import WavLMConfig

from avforge.core.errors import AvforgeError
from avforge.features.base import build_seeded
from avforge.features.lip_net import PRESETS, LipReadingNet
from avforge.features.registry import build_encoder, build_from_spec
from avforge.features.spec import EncoderSpec, WeightsRef, spec_from_record
from avforge.features.store import FeatureStore
from features_clips import make_clip

TINY_WAVLM = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                  conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)


def as_read_back(spec: EncoderSpec) -> EncoderSpec:
    return EncoderSpec.from_dict(json.loads(json.dumps(spec.to_dict())))


@pytest.mark.parametrize("name, opts", [("lip-light", {"size": 4, "crop": "detect"}), ("logmel", {"n_mels": 8}),
                                        ("lip-resnet", {"seed": 2}), ("hf", {"seed": 3, "layer": "weighted"})])
def test_weight_free_encoders_rebuild_from_their_spec_alone(name, opts):
    if name == "hf":
        opts = {**opts, "config": WavLMConfig(**TINY_WAVLM)}
    original = build_encoder(name, **opts)
    spec = as_read_back(original.spec)
    assert spec.weights.portable
    rebuilt = build_from_spec(spec)
    assert rebuilt.spec.identity() == original.spec.identity()
    clip = make_clip(12, seed=1)
    np.testing.assert_array_equal(rebuilt.encode(clip), original.encode(clip))


def test_pretrained_weights_are_named_by_file_and_hash_and_must_be_re_pointed(tmp_path):
    net = build_seeded(lambda: LipReadingNet(PRESETS["small"]), 7)
    (tmp_path / "a").mkdir()
    torch.save(net.state_dict(), tmp_path / "a" / "vsr.pth")
    spec = as_read_back(build_encoder("lip-resnet", checkpoint=str(tmp_path / "a" / "vsr.pth")).spec)
    text = json.dumps(spec.to_dict())
    assert str(tmp_path) not in text and spec.weights.name == "vsr.pth" and len(spec.weights.sha256) == 64
    with pytest.raises(AvforgeError, match=r"made with weights vsr.pth \(sha256 [0-9a-f]{12}\).*--lip-weights"):
        build_from_spec(spec)
    # The same tensors elsewhere, in another format, are accepted.
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp_path / "moved.safetensors")
    moved = build_from_spec(spec, weights=str(tmp_path / "moved.safetensors"))
    clip = make_clip(6, seed=2)
    np.testing.assert_array_equal(moved.encode(clip), build_encoder("lip-resnet", checkpoint=str(
        tmp_path / "a" / "vsr.pth")).encode(clip))
    other = build_seeded(lambda: LipReadingNet(PRESETS["small"]), 8)
    torch.save(other.state_dict(), tmp_path / "other.pth")
    with pytest.raises(AvforgeError) as info:
        build_from_spec(spec, weights=str(tmp_path / "other.pth"))
    message = str(info.value)
    assert "\n" not in message and "other.pth has sha256" in message and "vsr.pth (sha256" in message
    assert spec.weights.sha256[:12] in message


def test_hf_folder_is_re_pointed_and_weight_free_encoders_refuse_weights(tmp_path):
    src = build_encoder("hf", config=WavLMConfig(**TINY_WAVLM), seed=4)
    src.net.save_pretrained(tmp_path / "wavlm-tiny")
    spec = build_encoder("hf", model=str(tmp_path / "wavlm-tiny")).spec
    assert spec.weights == WeightsRef("file", "wavlm-tiny", src.weights.sha256)
    assert build_from_spec(spec, weights=str(tmp_path / "wavlm-tiny")).spec.identity() == spec.identity()
    with pytest.raises(AvforgeError, match="--audio-encoder NAME_OR_DIR"):
        build_from_spec(spec)
    with pytest.raises(AvforgeError, match="no pretrained weights to re-point"):
        build_from_spec(build_encoder("logmel").spec, weights=str(tmp_path / "wavlm-tiny"))


def test_old_records_convert_or_say_how(tmp_path):
    old = {"encoder": "lip-resnet", "modality": "visual", "dim": 128, "weights_id": "random-init:seed5",
           "config_hash": "0123", "options": {"variant": "small", "crop": "fixed"}, "fps": 25.0}
    spec = spec_from_record(old)
    assert (spec.seed, spec.weights.source, spec.options) == (5, "seed", {"variant": "small", "crop": "fixed"})
    assert build_from_spec(spec).spec.differences(spec) == []  # unrecorded hash: matches
    by_path = spec_from_record({**old, "weights_id": "/cluster/models/vsr_base.pth:123456"})
    assert by_path.weights == WeightsRef("file", "vsr_base.pth", "")
    hub = spec_from_record({"encoder": "hf", "modality": "audio", "dim": 768, "weights_id": "microsoft/wavlm@abc",
                            "options": {"model": "microsoft/wavlm", "layer": None, "normalize": True}})
    assert hub.weights == WeightsRef("hub", "microsoft/wavlm") and hub.options == {"config": None, "layer": None}
    with pytest.raises(AvforgeError, match=r"re-extract its features with this avforge"):
        spec_from_record({"encoder": "lip-light", "dim": 34, "weights_id": "none"})

    # An old store index is read, and rewritten in the current format when extract opens it.
    encoder = build_encoder("lip-light", size=4, crop="fixed")
    (tmp_path / "index.json").write_text(json.dumps(
        {"encoder": "lip-light", "modality": "visual", "dim": 34, "weights_id": "none", "config_hash": "x",
         "options": {"size": 4, "crop": "fixed", "crop_size": 96}, "fps": 25.0}))
    assert FeatureStore(tmp_path).spec.identity() == encoder.spec.identity()
    FeatureStore(tmp_path, encoder.spec)
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["format"] == "avforge-features/2" and index["storage"]["dtype"] == "float32"
    assert EncoderSpec.from_dict(index["spec"]) == encoder.spec
