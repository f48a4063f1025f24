"""Self-supervised speech encoders from Hugging Face transformers (WavLM, wav2vec2, HuBERT).

The CNN feature extractor of these models emits one frame per ``hop`` samples over a window of
``win`` samples (320 / 400 at 16 kHz: ~50 Hz, ``floor((S - 400) / 320) + 1`` frames). Frames are
averaged onto the 25 fps video grid by their centre times (``align.pool_to_grid``): a clip of T
video frames gives exactly T rows.
"""
from __future__ import annotations

import math
import os

import numpy as np
import torch
from torch import nn

from avforge.core.errors import AvforgeError
from avforge.features.align import fit_length, frame_centers_s, pool_to_grid
from avforge.features.base import Encoder, build_seeded
from avforge.features.spec import WeightsRef, weights_digest

OFFLINE_HINT = ("no weights found locally and the Hugging Face hub is not reachable (HF_HUB_OFFLINE={}). "
                "Supply them either as a local folder saved with save_pretrained() (--model /path/to/folder), "
                "or pre-populate the Hugging Face cache on a machine with internet "
                "(`huggingface-cli download {}`, then copy $HF_HOME) and run with HF_HUB_OFFLINE=1")


class LayerMix(nn.Module):
    """Learned softmax-weighted sum over the L+1 hidden states (embeddings + every layer)."""

    def __init__(self, n_states: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_states))  # uniform at start

    def forward(self, hidden_states) -> torch.Tensor:
        stacked = torch.stack(tuple(hidden_states), dim=0)  # (L+1, B, N, C)
        weights = torch.softmax(self.logits, dim=0).to(stacked.dtype)
        return torch.einsum("l,lbnc->bnc", weights, stacked)


def _parse_layer(layer) -> int | str | None:
    if layer is None or layer == "last":
        return None
    if layer == "weighted":
        return "weighted"
    try:
        return int(layer)
    except (TypeError, ValueError):
        raise AvforgeError(f"layer must be an integer, 'last' or 'weighted', got {layer!r}") from None


def _conv_geometry(config) -> tuple[int, int]:
    """(hop, window) in samples of the model's convolutional feature extractor."""
    hop, win = 1, 1
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        win += (kernel - 1) * hop
        hop *= stride
    return hop, win


def _load_pretrained(model: str):
    from transformers import AutoModel

    try:
        return AutoModel.from_pretrained(model)
    except (OSError, ValueError) as exc:  # ValueError: a folder without a usable config.json
        if os.path.isdir(model) or isinstance(exc, ValueError):
            raise AvforgeError(f"not a saved transformers model folder ({' '.join(str(exc).split())[:200]})",
                               path=model) from None
        offline = os.environ.get("HF_HUB_OFFLINE", "0")
        raise AvforgeError(f"cannot load speech model {model!r}: " + OFFLINE_HINT.format(offline, model)) from None


def _portable_config(config) -> dict | None:
    """A model config as JSON, without the fields that name this machine or library version."""
    if config is None:
        return None
    data = config.to_dict()
    for key in ("transformers_version", "_name_or_path"):
        data.pop(key, None)
    return data


def _wants_normalize(model: str | None) -> bool:
    """The model's own feature-extractor setting (zero-mean unit-variance wave), True if unknown."""
    if model is None:
        return True
    from transformers import AutoFeatureExtractor

    try:
        return bool(getattr(AutoFeatureExtractor.from_pretrained(model), "do_normalize", True))
    except (OSError, ValueError):
        return True


class HFSpeechEncoder(Encoder):
    """A frozen (by default) transformers speech model; ``layer``: None/"last", an index into the
    hidden states (0 = after the CNN + projection, L = last), or "weighted" (``self.mix``, a
    ``LayerMix`` whose weights start uniform and are learnable when the encoder is trained end to
    end; a feature store extracted with it holds the uniform average). ``config`` builds a
    random-weight model instead of loading one (tests, benchmarks), seeded by ``seed``.
    """

    name = "hf"
    modality = "audio"
    weights_option = "model"

    def __init__(self, model: str | None = None, config=None, layer=None, trainable: bool = False,
                 seed: int = 0, device: str = "cpu"):
        self.layer = _parse_layer(layer)
        if (model is None) == (config is None):
            raise AvforgeError("encoder 'hf' needs exactly one of model=<hub name or folder> or config=")
        if config is not None:
            from transformers import AutoConfig, AutoModel

            if isinstance(config, dict):  # as recorded in a spec
                config = AutoConfig.for_model(**config)
            net = build_seeded(lambda: AutoModel.from_config(config), seed)
            weights = WeightsRef("seed", sha256=weights_digest(net))
        else:
            net = _load_pretrained(model)
            local = os.path.isdir(model)
            weights = WeightsRef("file" if local else "hub", os.path.basename(os.path.normpath(model)) if local
                                 else model, weights_digest(net))
        self.normalize = _wants_normalize(model)
        super().__init__({"config": _portable_config(config), "layer": self.layer}, device)
        self.weights, self.seed = weights, seed
        self.net = net.to(self.device)
        self.net.train(trainable)
        self.net.requires_grad_(trainable)
        cfg = self.net.config
        self.dim = int(cfg.hidden_size)
        self.hop, self.win = _conv_geometry(cfg)
        self.pad_with_mask = getattr(cfg, "feat_extract_norm", "group") == "layer"
        n_states = int(cfg.num_hidden_layers) + 1
        if isinstance(self.layer, int) and not -n_states <= self.layer < n_states:
            raise AvforgeError(f"layer {self.layer} out of range: this model has {n_states} hidden states")
        self.mix = LayerMix(n_states).to(self.device) if self.layer == "weighted" else None
        self.sample_rate = 16000
        self.frame_samples = int(round(self.grid.samples_per_frame(self.sample_rate)))

    def _select(self, out) -> torch.Tensor:
        if self.layer is None:
            return out.last_hidden_state
        if self.layer == "weighted":
            return self.mix(out.hidden_states)
        return out.hidden_states[self.layer]

    def _prepare(self, clip) -> np.ndarray:
        n_frames = len(clip.frames)
        wave = fit_length(clip.wave, max(n_frames * self.frame_samples, self.win))
        if self.normalize:
            wave = (wave - wave.mean()) / math.sqrt(wave.var() + 1e-7)
        return wave.astype(np.float32)

    def _forward(self, waves: list[np.ndarray]) -> list[torch.Tensor]:
        """Waves of any lengths -> per wave (N_i, C) frames at the model's rate."""
        longest = max(len(w) for w in waves)
        x = torch.zeros(len(waves), longest, device=self.device)
        mask = torch.zeros(len(waves), longest, dtype=torch.long, device=self.device)
        for i, w in enumerate(waves):
            x[i, : len(w)] = torch.as_tensor(w, device=self.device)
            mask[i, : len(w)] = 1
        kwargs = {"attention_mask": mask} if self.pad_with_mask else {}
        out = self.net(x, output_hidden_states=self.layer is not None, **kwargs)
        feats = self._select(out)  # (B, N, C)
        n_src = [(len(w) - self.win) // self.hop + 1 for w in waves]
        return [feats[i, :n] for i, n in enumerate(n_src)]

    def _to_grid(self, feats: torch.Tensor, n_frames: int) -> np.ndarray:
        centers = frame_centers_s(len(feats), self.hop, self.win, self.sample_rate)
        return pool_to_grid(feats, centers, n_frames, self.grid).float().cpu().numpy()

    def encode(self, clip) -> np.ndarray:
        return self.encode_batch([clip])[0]

    def encode_batch(self, clips) -> list[np.ndarray]:
        """Batched on the device. Models with group norm in the CNN (wav2vec2/WavLM/HuBERT base)
        normalise over the whole padded length, so only waves of equal length share a forward pass;
        layer-norm models (the large ones) take any lengths with an attention mask.
        """
        waves = [self._prepare(c) for c in clips]
        groups: dict = {}
        for i, w in enumerate(waves):
            groups.setdefault(0 if self.pad_with_mask else len(w), []).append(i)
        results: list = [None] * len(clips)
        with torch.set_grad_enabled(self.net.training):
            for idx in groups.values():
                for i, feats in zip(idx, self._forward([waves[i] for i in idx])):
                    results[i] = self._to_grid(feats.detach(), len(clips[i].frames))
        return results
