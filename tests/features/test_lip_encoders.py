"""Lip encoders: lip-light, the lip-resnet variants, and loading Auto-AVSR-named checkpoints."""
import numpy as np
import pytest
import torch

from avforge.core.errors import AvforgeError
from avforge.features.auto_avsr import load_auto_avsr
from avforge.features.base import build_seeded
from avforge.features.conformer import RelPosSelfAttention, relative_sinusoids
from avforge.features.lip_net import PRESETS, LipReadingNet
from avforge.features.registry import build_encoder
from avforge.features.spec import weights_digest
from features_clips import make_clip

# Spot check: key names and shapes as they appear in the public Auto-AVSR VSR checkpoints
# (github.com/mpc001/auto_avsr, E2E with frontend / proj_encoder / ConformerEncoder).
PUBLISHED_KEYS = {
    "frontend.frontend3D.0.weight": (64, 1, 5, 7, 7),
    "frontend.frontend3D.1.running_mean": (64,),
    "frontend.trunk.layer1.0.conv1.weight": (64, 64, 3, 3),
    "frontend.trunk.layer2.0.downsample.0.weight": (128, 64, 1, 1),
    "frontend.trunk.layer2.0.downsample.1.weight": (128,),
    "frontend.trunk.layer4.1.bn2.running_var": (512,),
    "proj_encoder.weight": (768, 512),
    "encoder.encoders.0.self_attn.linear_q.weight": (768, 768),
    "encoder.encoders.0.self_attn.pos_bias_u": (12, 64),
    "encoder.encoders.11.self_attn.linear_pos.weight": (768, 768),
    "encoder.encoders.0.feed_forward_macaron.w_1.weight": (3072, 768),
    "encoder.encoders.7.feed_forward.w_2.bias": (768,),
    "encoder.encoders.5.conv_module.pointwise_cov1.weight": (1536, 768, 1),
    "encoder.encoders.5.conv_module.depthwise_conv.weight": (768, 1, 31),
    "encoder.encoders.5.conv_module.norm.running_mean": (768,),
    "encoder.encoders.3.norm_ff_macaron.weight": (768,),
    "encoder.encoders.3.norm_final.bias": (768,),
    "encoder.after_norm.weight": (768,),
}


@pytest.fixture(scope="module")
def full_state():
    """State dict of a full-size net (seed 1), the shape of a published checkpoint."""
    return {k: v.clone() for k, v in build_seeded(lambda: LipReadingNet(PRESETS["auto-avsr"]), 1).state_dict().items()}


@pytest.fixture(scope="module")
def target():
    """A second full-size net (seed 2) to load checkpoints into."""
    return build_seeded(lambda: LipReadingNet(PRESETS["auto-avsr"]), 2)


@pytest.mark.parametrize("n_frames", (1, 7, 13))
def test_lip_light_shape_and_static_video_has_no_motion(n_frames):
    enc = build_encoder("lip-light")
    clip = make_clip(n_frames, seed=n_frames)
    out = enc.encode(clip)
    assert out.shape == (n_frames, 514) and out.dtype == np.float32
    assert np.all(out[0, 256:] == 0)  # no previous frame: zero difference and energy
    clip.frames[:] = clip.frames[:1]
    still = enc.encode(clip)
    assert np.abs(still[:, 256:]).max() < 1e-6


def test_lip_light_motion_energy_peaks_where_the_mouth_moves():
    clip = make_clip(9, seed=0)
    clip.frames[:] = 120
    clip.frames[5:, 40:, 16:48] = 250  # lower-centre change from frame 5 on
    energy = build_encoder("lip-light").encode(clip)[:, -2]
    assert int(np.argmax(energy)) == 5 and energy[6:].max() < 1e-6


@pytest.mark.parametrize("n_frames", (1, 7, 13))
def test_lip_resnet_small_gives_t_frames(n_frames):
    enc = build_encoder("lip-resnet", variant="small")
    out = enc.encode(make_clip(n_frames, seed=n_frames))
    assert out.shape == (n_frames, 128) and out.dtype == np.float32 and np.isfinite(out).all()


def test_lip_resnet_batch_with_padding_equals_one_by_one():
    enc = build_encoder("lip-resnet", variant="small")
    clips = [make_clip(n, seed=n) for n in (9, 4, 6)]
    for clip, out in zip(clips, enc.encode_batch(clips)):
        np.testing.assert_allclose(out, enc.encode(clip), atol=1e-4)


def test_relative_attention_scores_use_offset_i_minus_j():
    torch.manual_seed(0)
    att = RelPosSelfAttention(8, 2).eval()
    x = torch.randn(1, 4, 8)
    pos = relative_sinusoids(4, 8, x.device, x.dtype)  # rows: offsets 3, 2, 1, 0, -1, -2, -3
    assert torch.allclose(pos[3], torch.tensor([0.0, 1.0] * 4))  # offset 0: sin 0, cos 0
    mask = torch.ones(1, 4, dtype=torch.bool)
    out = att(x, pos, mask)
    # the same attention written as explicit loops over query i and key j
    q = att.linear_q(x)[0].view(4, 2, 4)
    k = att.linear_k(x)[0].view(4, 2, 4)
    v = att.linear_v(x)[0].view(4, 2, 4)
    p = att.linear_pos(pos).view(7, 2, 4)
    scores = torch.zeros(2, 4, 4)
    for i in range(4):
        for j in range(4):
            scores[:, i, j] = ((q[i] + att.pos_bias_u) * k[j]).sum(-1) + ((q[i] + att.pos_bias_v) * p[3 - (i - j)]).sum(-1)
    ctx = torch.einsum("hij,jhd->ihd", torch.softmax(scores / 2.0, dim=-1), v).reshape(4, 8)
    assert torch.allclose(out[0], att.linear_out(ctx), atol=1e-5)


def test_full_size_net_has_the_published_key_names_and_shapes(full_state):
    for key, shape in PUBLISHED_KEYS.items():
        assert tuple(full_state[key].shape) == shape, key
    assert not any(k.startswith(("decoder.", "ctc.")) for k in full_state)


def test_auto_avsr_state_dict_loads_with_its_text_heads_dropped(full_state, target):
    ckpt = dict(full_state)
    ckpt["decoder.embed.0.weight"] = torch.zeros(5049, 768)
    ckpt["ctc.ctc_lo.weight"] = torch.zeros(5049, 768)
    with torch.no_grad():
        target.encoder.encoders[4].self_attn.linear_v.weight.zero_()
        target.frontend.trunk.layer3[0].bn1.running_var.fill_(3.0)
    load_auto_avsr(target, ckpt)
    for k, v in target.state_dict().items():
        assert torch.equal(v, full_state[k]), k


def test_older_espnet_layout_is_renamed_on_load(full_state, target):
    older = {}
    for k, v in full_state.items():
        k = k.replace("conv_module.pointwise_cov", "conv_module.pointwise_conv")
        k = "encoder." + k if k.startswith("frontend.") else k.replace("proj_encoder.", "encoder.embed.0.")
        older[k] = v
    assert "encoder.embed.0.weight" in older and "encoder.frontend.trunk.layer1.0.conv1.weight" in older
    with torch.no_grad():
        target.proj_encoder.weight.zero_()
        target.encoder.encoders[0].conv_module.pointwise_cov1.weight.zero_()
    load_auto_avsr(target, {"state_dict": {"model." + k: v for k, v in older.items()}})
    for k in ("proj_encoder.weight", "encoder.encoders.0.conv_module.pointwise_cov1.weight"):
        assert torch.equal(target.state_dict()[k], full_state[k]), k


def test_mismatched_checkpoint_names_the_bad_keys(full_state, target):
    small = LipReadingNet(PRESETS["small"])
    with pytest.raises(AvforgeError) as info:
        load_auto_avsr(small, full_state, source="vsr.pth")
    message = str(info.value)
    assert message.startswith("vsr.pth: ") and "\n" not in message
    assert "unexpected key(s): encoder.encoders.2." in message  # the small net has 2 blocks
    assert "shape mismatch(es): frontend.frontend3D.0.weight (64, 1, 5, 7, 7) != (16, 1, 5, 7, 7)" in message

    broken = {k: v for k, v in full_state.items() if not k.startswith("encoder.after_norm")}
    broken["proj_encoder.weight"] = torch.zeros(768, 256)
    with pytest.raises(AvforgeError, match=r"2 missing key\(s\): encoder.after_norm.weight, encoder.after_norm.bias"):
        load_auto_avsr(target, broken)


def test_lip_resnet_encoder_loads_a_checkpoint_file(tmp_path):
    source = build_seeded(lambda: LipReadingNet(PRESETS["small"]), 7)
    torch.save(source.state_dict(), tmp_path / "small.pth")
    enc = build_encoder("lip-resnet", variant="small", checkpoint=str(tmp_path / "small.pth"))
    assert (enc.weights.source, enc.weights.name) == ("file", "small.pth")  # a name, never a path
    assert enc.weights.sha256 == weights_digest(source)
    clip = make_clip(5, seed=1)
    random_init = build_encoder("lip-resnet", variant="small")
    assert enc.spec.digest() != random_init.spec.digest()
    x = enc.mouth_input(clip)[None]
    with torch.no_grad():
        expected = source.eval()(x, torch.ones(1, 5, dtype=torch.bool))[0].numpy()
    np.testing.assert_allclose(enc.encode(clip), expected, atol=1e-5)
    with pytest.raises(AvforgeError, match="checkpoint not found"):
        build_encoder("lip-resnet", checkpoint=str(tmp_path / "missing.pth"))
