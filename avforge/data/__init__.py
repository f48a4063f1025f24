"""Datasets: LAV-DF, AV-Deepfake1M(++) and the synthetic benchmark -> ``VideoRecord``s, manifests."""
from __future__ import annotations

from pathlib import Path

from avforge.core.errors import AvforgeError
from avforge.core.types import VideoRecord
from avforge.data.avdeepfake1m import load_avdeepfake1m
from avforge.data.lavdf import METADATA_NAMES, load_lavdf
from avforge.data.manifest import ManifestEntry, read_manifest, resolve_video, write_manifest

DATASETS = ("lavdf", "avdeepfake1m", "synthetic")

__all__ = ["DATASETS", "ManifestEntry", "detect_layout", "load_avdeepfake1m", "load_dataset", "load_lavdf",
           "read_manifest", "resolve_video", "write_manifest"]


def detect_layout(root) -> str:
    """``"lavdf"`` or ``"avdeepfake1m"``, from the metadata files present in ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise AvforgeError("dataset root not found", path=root)
    if any((root / name).is_file() for name in METADATA_NAMES):
        return "lavdf"
    if any(root.glob("*_metadata.json")) or any(root.glob("*_files.txt")):
        return "avdeepfake1m"
    raise AvforgeError("neither a LAV-DF metadata.json nor AV-Deepfake1M {split}_metadata.json / "
                       "{split}_files.txt in this folder", path=root)


def load_dataset(name: str, root, split: str | None) -> list[VideoRecord]:
    """Records of one split. ``synthetic`` data is written in one of the two real layouts."""
    if name not in DATASETS:
        raise AvforgeError(f"unknown dataset {name!r} (expected one of {list(DATASETS)})")
    layout = detect_layout(root) if name == "synthetic" else name
    if layout == "lavdf":
        return load_lavdf(root, split)
    if split is None:
        raise AvforgeError("AV-Deepfake1M needs a split (train, val, test, testA or testB)", path=root)
    return load_avdeepfake1m(root, split)
