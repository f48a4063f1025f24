"""``build_encoder(name, **opts)``: encoders by name, imported on demand (transformers is slow to import)."""
from __future__ import annotations

import importlib
import inspect

from avforge.core.errors import AvforgeError
from avforge.features.base import Encoder

# name -> (module, class). Options are the class's keyword arguments.
ENCODERS = {
    "logmel": ("avforge.features.logmel", "LogMelEncoder"),
    "hf": ("avforge.features.speech_hf", "HFSpeechEncoder"),
    "lip-light": ("avforge.features.lip_light", "LipLightEncoder"),
    "lip-resnet": ("avforge.features.lip_resnet", "LipResNetEncoder"),
}


def encoder_names() -> list[str]:
    return sorted(ENCODERS)


def build_encoder(name: str, **opts) -> Encoder:
    """Build an encoder; unknown names and options are one-line errors."""
    if name not in ENCODERS:
        raise AvforgeError(f"unknown encoder {name!r} (known: {', '.join(encoder_names())})")
    module, cls_name = ENCODERS[name]
    cls = getattr(importlib.import_module(module), cls_name)
    known = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise AvforgeError(f"encoder {name!r}: unknown option(s) {unknown} (known: {known})")
    return cls(**opts)
