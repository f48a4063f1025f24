"""EncoderSpec: what made a set of features, in a form that travels between machines.

A spec is written into every FeatureStore index and every checkpoint, and ``build_from_spec``
(registry.py) turns it back into the encoder. Weights are named portably, never by path:
``WeightsRef.source`` is "none" (fixed maths), "seed" (random init from ``seed``), "hub" (a
Hugging Face hub name, loadable where the hub or its cache is) or "file" (a file or folder the
user points to again); ``sha256`` hashes the loaded tensors (names, dtypes, shapes, bytes), so
the same weights match whatever their file format or place. Two specs make the same features
when their ``identity()`` is equal: everything except where the weights came from.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace

import torch

from avforge.core.errors import AvforgeError

FEATURE_VERSION = 2  # 2: fixed mouth box 0.375 of the frame (was 0.5). Bump when an encoder's maths changes: stores made before are then refused
WEIGHT_SOURCES = ("none", "seed", "hub", "file")
_LEGACY_SEED = "random-init:seed"


@dataclass(frozen=True)
class WeightsRef:
    source: str = "none"  # one of WEIGHT_SOURCES
    name: str = ""  # hub name, or the weights file / folder name (never a path)
    sha256: str = ""  # of the loaded tensors; "" = not recorded (converted from an old record)

    def __post_init__(self):
        if self.source not in WEIGHT_SOURCES:
            raise AvforgeError(f"unknown weights source {self.source!r} (known: {', '.join(WEIGHT_SOURCES)})")
        if "/" in self.name and self.source == "file":
            raise AvforgeError(f"weights file name {self.name!r} must not be a path")

    @property
    def portable(self) -> bool:
        """True when the encoder can be rebuilt without any file (no weights, or a seeded init)."""
        return self.source in ("none", "seed")

    def label(self) -> str:
        """``vsr.pth (sha256 1a2b3c4d5e6f)`` — for messages."""
        what = {"none": "no weights", "seed": "random init"}.get(self.source, self.name)
        return f"{what} (sha256 {self.sha256[:12] or 'not recorded'})"


@dataclass(frozen=True)
class EncoderSpec:
    name: str  # registry name
    modality: str  # "audio" | "visual"
    dim: int
    options: dict = field(default_factory=dict)  # the encoder's constructor options, JSON values
    weights: WeightsRef = WeightsRef()
    seed: int = 0
    fps: float = 25.0  # the grid the features lie on
    version: int = FEATURE_VERSION

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), sort_keys=True))

    @classmethod
    def from_dict(cls, data: dict) -> "EncoderSpec":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AvforgeError(f"encoder spec has unknown key(s) {unknown} (made by a newer avforge?)")
        try:
            weights = WeightsRef(**data.get("weights", {}))
            return cls(**{**data, "weights": weights, "dim": int(data["dim"]), "fps": float(data.get("fps", 25.0))})
        except (KeyError, TypeError) as exc:
            raise AvforgeError(f"encoder spec is incomplete or malformed ({exc})") from None

    def identity(self) -> dict:
        """What decides the features: the spec without where the weights came from."""
        data = self.to_dict()
        data["weights"] = {"sha256": self.weights.sha256}
        return data

    def digest(self) -> str:
        """16 hex digits over ``identity()``."""
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:16]

    def differences(self, other: "EncoderSpec") -> list[str]:
        """``key: mine vs theirs`` for every identity key that differs; an unrecorded hash matches any."""
        a, b = self.identity(), other.identity()
        if not a["weights"]["sha256"] or not b["weights"]["sha256"]:
            a["weights"] = b["weights"]
        return [f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 over the module's state dict: every name, dtype, shape and the raw bytes."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def spec_from_record(record: dict, where: str = "") -> EncoderSpec:
    """A spec from a store index or a checkpoint's ``features`` entry, new or old format.

    Old records (avforge before specs: ``weights_id`` strings) are converted: seeds and weight-free
    encoders exactly; a weights path becomes its file name without a hash (any re-pointed weights
    are then accepted). An old record without options cannot be converted (one-line error).
    """
    if "spec" in record:
        return EncoderSpec.from_dict(record["spec"])
    if "weights" in record:
        return EncoderSpec.from_dict(record)
    if "options" not in record or "encoder" not in record:
        raise AvforgeError(f"{where or 'record'} predates recorded encoder options (old avforge): re-extract its "
                           "features with this avforge (avforge extract ... --out NEW_DIR) and retrain on them")
    options = dict(record["options"])
    weights_id = str(record.get("weights_id", "none"))
    seed = 0
    if weights_id.startswith(_LEGACY_SEED):
        seed, weights = int(weights_id[len(_LEGACY_SEED):]), WeightsRef("seed")
    elif weights_id == "none":
        weights = WeightsRef("none")
    elif weights_id.startswith("/"):  # "<abs path>" (hf folder) or "<abs path>:<size>" (lip-resnet file)
        path = weights_id if record["encoder"] == "hf" else weights_id.rsplit(":", 1)[0]
        weights = WeightsRef("file", name=path.rstrip("/").rsplit("/", 1)[-1])
    else:  # "<hub name>@<commit>" or "<hub name>"
        weights = WeightsRef("hub", name=str(options.get("model") or weights_id.split("@")[0]))
    if record["encoder"] == "hf":  # the model is the weights; normalize derives from them
        options = {"config": options.get("config"), "layer": options.get("layer")}
    return EncoderSpec(name=str(record["encoder"]), modality=str(record.get("modality", "")), dim=int(record["dim"]),
                       options=options, weights=weights, seed=seed, fps=float(record.get("fps", 25.0)))


def with_crop(spec: EncoderSpec, crop: str | None) -> EncoderSpec:
    """``spec`` with its mouth-crop option replaced (None: unchanged); an error for encoders without one."""
    if crop is None or spec.options.get("crop") == crop:
        return spec
    if "crop" not in spec.options:
        raise AvforgeError(f"encoder {spec.name!r} has no mouth crop to change")
    return replace(spec, options={**spec.options, "crop": crop})
