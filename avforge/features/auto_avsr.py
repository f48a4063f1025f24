"""Load public Auto-AVSR visual (VSR) checkpoints into ``LipReadingNet``.

Key mapping (found in github.com/mpc001/auto_avsr: espnet/nets/pytorch_backend/e2e_asr_conformer.py,
backbones/conv3d_extractor.py, backbones/modules/resnet.py, encoder/conformer_encoder.py,
transformer/attention.py; the published ``vsr_trlrs3_base.pth`` / ``vsr_trlrs2lrs3vox2avsp_base.pth``).
Released checkpoints are a plain ``state_dict`` of the whole E2E model in one of two layouts:

| checkpoint key (layout A, current repo)     | checkpoint key (layout B, older ESPnet)  | ours, shape (full size)        |
|---------------------------------------------|------------------------------------------|--------------------------------|
| frontend.frontend3D.0.weight                | encoder.frontend.frontend3D.0.weight     | same as A, (64, 1, 5, 7, 7)    |
| frontend.frontend3D.1.{weight,bias,running_*}| encoder.frontend.frontend3D.1.*         | BatchNorm3d(64)                |
| frontend.trunk.layer{1-4}.{0,1}.conv{1,2}.weight | encoder.frontend.trunk.…             | (C, C_in, 3, 3), C = 64…512    |
| frontend.trunk.layer{1-4}.{0,1}.bn{1,2}.*   | encoder.frontend.trunk.…                 | BatchNorm2d(C)                 |
| frontend.trunk.layer{2-4}.0.downsample.{0,1}.* | encoder.frontend.trunk.…              | 1×1 conv (C, C/2, 1, 1) + BN   |
| proj_encoder.{weight,bias}                  | encoder.embed.0.{weight,bias}            | Linear 512 → 768               |
| encoder.encoders.{0-11}.self_attn.linear_{q,k,v,out}.{weight,bias} | (same)            | Linear 768 → 768               |
| encoder.encoders.N.self_attn.linear_pos.weight | (same)                                | (768, 768), no bias            |
| encoder.encoders.N.self_attn.pos_bias_{u,v} | (same)                                   | (12, 64)                       |
| encoder.encoders.N.feed_forward{,_macaron}.w_1 / w_2 | (same)                          | 768 → 3072 → 768 (ReLU)        |
| encoder.encoders.N.conv_module.pointwise_cov1 | …conv_module.pointwise_conv1           | Conv1d 768 → 1536, k 1         |
| encoder.encoders.N.conv_module.depthwise_conv | (same)                                 | Conv1d 768, k 31, groups 768   |
| encoder.encoders.N.conv_module.norm.*       | (same)                                   | BatchNorm1d(768)               |
| encoder.encoders.N.conv_module.pointwise_cov2 | …conv_module.pointwise_conv2           | Conv1d 768 → 768, k 1          |
| encoder.encoders.N.norm_{ff,mha,ff_macaron,conv,final}.* | (same)                      | LayerNorm(768), eps 1e-12      |
| encoder.after_norm.{weight,bias}            | (same)                                   | LayerNorm(768)                 |
| decoder.*, ctc.*                            | decoder.*, ctc.*                         | dropped (text heads)           |

Lightning checkpoints (``{"state_dict": {"model.…": …}}``) are unwrapped first.
"""
from __future__ import annotations

from pathlib import Path

import torch

from avforge.core.errors import AvforgeError

DROPPED_PREFIXES = ("decoder.", "ctc.")
RENAMES = (  # layout B -> layout A, applied in order to the start / middle of each key
    ("encoder.frontend.", "frontend."),
    ("encoder.embed.0.", "proj_encoder."),
    (".pointwise_conv1.", ".pointwise_cov1."),
    (".pointwise_conv2.", ".pointwise_cov2."),
)


def _canonical(key: str) -> str:
    for old, new in RENAMES:
        if old.startswith(".") and old in key:
            key = key.replace(old, new)
        elif key.startswith(old):
            key = new + key[len(old):]
    return key


def to_lipnet_keys(state_dict: dict) -> dict:
    """Map an Auto-AVSR state dict (either layout, optionally Lightning-wrapped) to our names."""
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
        state_dict = state_dict["state_dict"]
    out = {}
    for key, value in state_dict.items():
        key = key[len("model."):] if key.startswith("model.") else key
        if key.startswith(DROPPED_PREFIXES) or key.endswith(".pe"):
            continue
        out[_canonical(key)] = value
    return out


def _first(items, n: int = 5) -> str:
    items = list(items)
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def load_auto_avsr(net: torch.nn.Module, state_dict: dict, source: str | None = None) -> None:
    """Load a checkpoint into ``net`` (a ``LipReadingNet``); any mismatch is one clear error."""
    mapped = to_lipnet_keys(state_dict)
    expected = net.state_dict()
    for key in expected:  # older checkpoints lack BatchNorm's step counter; it is never used in eval
        if key.endswith("num_batches_tracked") and key not in mapped:
            mapped[key] = expected[key]
    missing = [k for k in expected if k not in mapped]
    unexpected = [k for k in mapped if k not in expected]
    wrong_shape = [f"{k} {tuple(mapped[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
                   if k in mapped and tuple(mapped[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_first(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_first(unexpected)}")
        if wrong_shape:
            parts.append(f"{len(wrong_shape)} shape mismatch(es): {_first(wrong_shape)}")
        raise AvforgeError("not an Auto-AVSR visual checkpoint for this lip encoder variant: "
                           + "; ".join(parts), path=source)
    net.load_state_dict(mapped, strict=True)


def read_checkpoint(path) -> dict:
    """A ``.pth``/``.pt`` (torch.load, weights only) or ``.safetensors`` state dict."""
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("checkpoint not found", path=path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise AvforgeError(f"cannot read checkpoint ({type(exc).__name__}: {exc})", path=path) from None
