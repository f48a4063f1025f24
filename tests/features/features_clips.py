"""Tiny in-memory clips and tiny on-disk videos + manifests for the features tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from avforge.core.types import VideoRecord
from avforge.io.media import AVClip

SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps


def make_clip(n_frames: int, seed: int = 0, size: int = 64) -> AVClip:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n_frames, size, size, 3), dtype=np.uint8)
    wave = (0.1 * rng.standard_normal(n_frames * SAMPLES_PER_FRAME)).astype(np.float32)
    return AVClip(frames=frames, wave=wave, duration_s=n_frames / 25.0)


def write_dataset(root: Path, n_videos: int, seed: int = 0) -> Path:
    """``n_videos`` short H.264/AAC clips (4..26 frames, 64×64) and their manifest; returns it."""
    from avforge.data.manifest import write_manifest
    from avforge.io.writer import write_video

    rng = np.random.default_rng(seed)
    records = []
    for i in range(n_videos):
        n_frames = 4 + (7 * i) % 23
        file = f"part{i % 2}/{i:03d}.mp4"
        frames = rng.integers(0, 256, (n_frames, 64, 64, 3), dtype=np.uint8)
        wave = (0.1 * rng.standard_normal(n_frames * SAMPLES_PER_FRAME)).astype(np.float32)
        write_video(root / "videos" / file, frames, wave)
        records.append(VideoRecord(file=file, split="test", modify_type="real"))
    manifest = root / "manifest.jsonl"
    write_manifest(manifest, records, root / "videos")
    return manifest


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative posix path -> content)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
