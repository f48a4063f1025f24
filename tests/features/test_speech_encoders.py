"""Speech encoders: tiny random WavLM / wav2vec2 / HuBERT, the 25 fps alignment, log-mel."""
import numpy as np
import pytest
import torch
from transformers import HubertConfig, Wav2Vec2Config, WavLMConfig

from avforge.core.errors import AvforgeError
from avforge.core.timegrid import VIDEO_GRID
from avforge.features.align import frame_centers_s, pool_to_grid
from avforge.features.registry import build_encoder
from features_clips import make_clip

ODD_LENGTHS = (1, 7, 13, 101)


def tiny(config_cls, **extra):
    return config_cls(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                      conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, **extra)


@pytest.fixture(scope="module", params=[WavLMConfig, Wav2Vec2Config, HubertConfig], ids=lambda c: c.__name__)
def hf_encoder(request):
    return build_encoder("hf", config=tiny(request.param))


def test_pool_to_grid_averages_the_two_50hz_frames_of_each_video_frame():
    n_frames = 5
    n_src = 2 * n_frames - 1  # floor((640 T - 400) / 320) + 1
    feats = torch.arange(n_src, dtype=torch.float32)[:, None]
    out = pool_to_grid(feats, frame_centers_s(n_src, 320, 400, 16000), n_frames, VIDEO_GRID)
    assert out[:, 0].tolist() == [0.5, 2.5, 4.5, 6.5, 8.0]


def test_pool_to_grid_fills_frames_past_short_audio_with_the_nearest_frame():
    feats = torch.tensor([[1.0], [3.0], [5.0]])  # 3 frames at 50 Hz: centres 12.5, 32.5, 52.5 ms
    out = pool_to_grid(feats, frame_centers_s(3, 320, 400, 16000), 4, VIDEO_GRID)
    assert out[:, 0].tolist() == [2.0, 5.0, 5.0, 5.0]


@pytest.mark.parametrize("n_frames", ODD_LENGTHS)
def test_hf_encoders_give_exactly_t_frames(hf_encoder, n_frames):
    out = hf_encoder.encode(make_clip(n_frames, seed=n_frames))
    assert out.shape == (n_frames, 32) and out.dtype == np.float32
    assert np.isfinite(out).all()


def test_hf_rows_are_the_means_of_the_model_frames_inside_each_video_frame(hf_encoder):
    clip = make_clip(7, seed=3)
    wave = torch.as_tensor(hf_encoder._prepare(clip))[None]
    with torch.no_grad():
        raw = hf_encoder.net(wave).last_hidden_state[0].numpy()  # (13, C) at 50 Hz
    assert raw.shape[0] == 13
    out = hf_encoder.encode(clip)
    expected = np.stack([raw[2 * i: 2 * i + 2].mean(axis=0) for i in range(7)])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_hf_encoder_is_frozen_by_default(hf_encoder):
    assert not any(p.requires_grad for p in hf_encoder.net.parameters())
    assert not hf_encoder.net.training


def test_layer_index_selects_that_hidden_state():
    cfg = tiny(WavLMConfig)
    clip = make_clip(9, seed=1)
    first = build_encoder("hf", config=cfg, layer=0).encode(clip)
    last = build_encoder("hf", config=cfg, layer="last").encode(clip)
    same_as_last = build_encoder("hf", config=cfg, layer=2).encode(clip)
    np.testing.assert_allclose(same_as_last, last, atol=1e-6)
    assert np.abs(first - last).mean() > 1e-3
    with pytest.raises(AvforgeError, match="out of range"):
        build_encoder("hf", config=cfg, layer=3)


def test_weighted_layer_sum_has_learnable_softmax_weights():
    enc = build_encoder("hf", config=tiny(Wav2Vec2Config), layer="weighted")
    clip = make_clip(6, seed=2)
    wave = torch.as_tensor(enc._prepare(clip))[None]
    with torch.no_grad():
        states = enc.net(wave, output_hidden_states=True).hidden_states
    assert len(states) == 3 and enc.mix.logits.shape == (3,)
    assert enc.mix.logits.requires_grad
    uniform = torch.stack(states).mean(dim=0)
    np.testing.assert_allclose(enc.mix(states).detach().numpy(), uniform.numpy(), atol=1e-6)
    (enc.mix(states) * states[2]).sum().backward()  # a loss that prefers the last layer
    assert enc.mix.logits.grad[2] > enc.mix.logits.grad[0]


def test_batch_equals_one_by_one_for_mixed_lengths():
    enc = build_encoder("hf", config=tiny(HubertConfig))
    clips = [make_clip(n, seed=n) for n in (5, 11, 5)]
    batched = enc.encode_batch(clips)
    for clip, out in zip(clips, batched):
        np.testing.assert_allclose(out, enc.encode(clip), atol=1e-5)


def test_local_folder_loads_offline(tmp_path):
    src = build_encoder("hf", config=tiny(WavLMConfig), seed=4)
    src.net.save_pretrained(tmp_path / "wavlm-tiny")
    loaded = build_encoder("hf", model=str(tmp_path / "wavlm-tiny"))
    clip = make_clip(5, seed=5)
    np.testing.assert_allclose(loaded.encode(clip), src.encode(clip), atol=1e-6)
    assert (loaded.weights.source, loaded.weights.name) == ("file", "wavlm-tiny")
    assert loaded.weights.sha256 == src.weights.sha256  # the same tensors, loaded from a folder


def test_missing_hub_weights_offline_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AvforgeError) as info:
        build_encoder("hf", model="microsoft/wavlm-base-plus-not-cached")
    message = str(info.value)
    assert "\n" not in message
    assert "wavlm-base-plus-not-cached" in message and "HF_HUB_OFFLINE" in message
    assert "save_pretrained" in message and "--model" in message


def test_a_folder_that_is_not_a_model_is_an_error(tmp_path):
    with pytest.raises(AvforgeError, match="not a saved transformers model folder"):
        build_encoder("hf", model=str(tmp_path))


@pytest.mark.parametrize("n_frames", ODD_LENGTHS)
def test_logmel_gives_t_frames_of_4_stacked_64_mel_steps(n_frames):
    out = build_encoder("logmel").encode(make_clip(n_frames, seed=n_frames))
    assert out.shape == (n_frames, 256) and out.dtype == np.float32 and np.isfinite(out).all()


def test_logmel_puts_a_click_in_its_video_frame():
    clip = make_clip(13, seed=0)
    clip.wave[:] = 0.0
    clip.wave[8 * 640 + 300: 8 * 640 + 340] = 0.9  # a burst inside video frame 8
    out = build_encoder("logmel").encode(clip)
    energy = out.reshape(13, 4, 64).mean(axis=(1, 2))
    assert int(np.argmax(energy)) == 8


def test_unknown_encoder_and_option_are_errors():
    with pytest.raises(AvforgeError, match="unknown encoder"):
        build_encoder("nope")
    with pytest.raises(AvforgeError, match="unknown option"):
        build_encoder("logmel", layer=3)
