"""Encoders by name, imported on demand (transformers is slow to import), and rebuilt from a spec.

``build_encoder(name, **opts)`` builds a new encoder; ``build_from_spec(spec, weights=...)`` is the
one way back from a recorded EncoderSpec to the encoder that made those features.
"""
from __future__ import annotations

import importlib
import inspect

from avforge.core.errors import AvforgeError
from avforge.features.base import Encoder
from avforge.features.spec import EncoderSpec, with_crop

# name -> (module, class). Options are the class's keyword arguments.
ENCODERS = {
    "logmel": ("avforge.features.logmel", "LogMelEncoder"),
    "hf": ("avforge.features.speech_hf", "HFSpeechEncoder"),
    "lip-light": ("avforge.features.lip_light", "LipLightEncoder"),
    "lip-resnet": ("avforge.features.lip_resnet", "LipResNetEncoder"),
}


def encoder_names() -> list[str]:
    return sorted(ENCODERS)


def _encoder_class(name: str) -> type[Encoder]:
    if name not in ENCODERS:
        raise AvforgeError(f"unknown encoder {name!r} (known: {', '.join(encoder_names())})")
    module, cls_name = ENCODERS[name]
    return getattr(importlib.import_module(module), cls_name)


def build_encoder(name: str, **opts) -> Encoder:
    """Build an encoder; unknown names and options are one-line errors."""
    cls = _encoder_class(name)
    known = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise AvforgeError(f"encoder {name!r}: unknown option(s) {unknown} (known: {known})")
    return cls(**opts)


def build_from_spec(spec: EncoderSpec, *, weights: str | None = None, crop: str | None = None,
                    device: str = "cpu") -> Encoder:
    """The encoder that ``spec`` records, checked to be the same (identity, including the hash of
    its weights). ``weights`` re-points pretrained weights (a hub name or a local file/folder); a
    hub model is looked up by its recorded name otherwise, a file must be re-pointed. ``crop``
    replaces a visual encoder's mouth-crop mode (its features then differ on purpose)."""
    spec = with_crop(spec, crop)
    cls = _encoder_class(spec.name)
    opts = dict(spec.options)
    if "seed" in inspect.signature(cls).parameters:
        opts["seed"] = spec.seed
    source = f"the seed-{spec.seed} init"
    if spec.weights.portable:
        if weights is not None:
            raise AvforgeError(f"the {spec.modality} encoder {spec.name!r} has no pretrained weights to re-point "
                               f"({spec.weights.label()}); drop the weights option")
    else:
        source = weights or (spec.weights.name if spec.weights.source == "hub" else None)
        if source is None:
            flag = "--lip-weights FILE" if spec.modality == "visual" else "--audio-encoder NAME_OR_DIR"
            raise AvforgeError(f"the {spec.modality} encoder {spec.name!r} was made with weights "
                               f"{spec.weights.label()}, which are not recorded by path: point to them with {flag}")
        opts[cls.weights_option] = str(source)
    encoder = build_encoder(spec.name, device=device, **opts)
    got = encoder.spec
    if spec.weights.sha256 and got.weights.sha256 != spec.weights.sha256:
        raise AvforgeError(f"wrong {spec.modality} encoder weights: {source} has sha256 {got.weights.sha256[:12]}, "
                           f"the features were made with {spec.weights.label()}")
    diff = got.differences(spec)
    if diff:
        raise AvforgeError(f"the rebuilt {spec.modality} encoder {spec.name!r} differs from the recorded one "
                           f"({'; '.join(diff)}; recorded by another avforge version?)")
    return encoder
