"""A tiny model + dataset that speak the trainer's protocol (forward(batch), loss(out, batch)).

Also a script: ``python engine_toys.py EXP_DIR [--epochs N] ...`` trains it (used by the
kill-and-resume and torchrun tests, which need a separate process).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from avforge.core.batch import Batch
from avforge.engine.distributed import process_group
from avforge.engine.train_config import TrainConfig
from avforge.engine.trainer import Trainer
from avforge.engine.checkpoint import MODEL_FILE, list_checkpoints
from safetensors.torch import load_file

T, CV, CA = 16, 3, 2


class ToyModel(torch.nn.Module):
    """Per-frame fake logit from a small temporal conv; loss = mean BCE (a per-sample mean)."""

    def __init__(self, nan_under_amp: bool = False, dropout: float = 0.0):
        super().__init__()
        self.conv = torch.nn.Conv1d(CV + CA, 8, 3, padding=1)
        self.drop = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(8, 1)
        self.nan_under_amp = nan_under_amp

    def forward(self, batch: Batch) -> torch.Tensor:
        x = torch.cat([batch.visual, batch.audio], dim=-1).transpose(1, 2)  # (B, C, T)
        h = self.drop(F.gelu(self.conv(x))).transpose(1, 2)  # (B, T, 8)
        return self.head(h).squeeze(-1)  # (B, T)

    def loss(self, out: torch.Tensor, batch: Batch) -> dict:
        bce = F.binary_cross_entropy_with_logits(out.float(), batch.frame_labels.float())
        if self.nan_under_amp and autocast_on(out.device.type):
            bce = bce * float("nan")
        return {"total": bce, "bce": bce.detach()}


def autocast_on(device_type: str) -> bool:
    """Whether the toy sees autocast (tests patch this, never torch's own function: autocast saves
    and restores its state through it, so a patched torch.is_autocast_enabled leaks autocast on)."""
    return torch.is_autocast_enabled(device_type)


class ToyDataset(torch.utils.data.Dataset):
    def __init__(self, n: int = 32, seed: int = 0, delay_s: float = 0.0):
        rng = np.random.default_rng(seed)
        self.visual = rng.normal(size=(n, T, CV)).astype(np.float32)
        self.audio = rng.normal(size=(n, T, CA)).astype(np.float32)
        self.labels = (self.visual[..., 0] + self.audio[..., 1] > 0).astype(np.float32)
        self.delay_s = delay_s

    def __len__(self) -> int:
        return len(self.visual)

    def __getitem__(self, i: int) -> dict:
        if self.delay_s:
            time.sleep(self.delay_s)
        return {"file": f"clip{i}.mp4", "visual": self.visual[i], "audio": self.audio[i], "labels": self.labels[i]}


def toy_collate(items: list[dict]) -> Batch:
    b = len(items)
    return Batch(files=[it["file"] for it in items],
                 visual=torch.from_numpy(np.stack([it["visual"] for it in items])),
                 audio=torch.from_numpy(np.stack([it["audio"] for it in items])),
                 mask=torch.ones(b, T, dtype=torch.bool), offset_s=torch.zeros(b),
                 duration_s=torch.full((b,), T / 25.0),
                 frame_labels=torch.from_numpy(np.stack([it["labels"] for it in items])))


def last_weights(exp_dir) -> dict:
    return load_file(list_checkpoints(Path(exp_dir) / "checkpoints")[-1] / MODEL_FILE)


def train_toy(exp_dir, *, n: int = 32, delay_s: float = 0.0, nan_under_amp: bool = False,
              dropout: float = 0.0, device: str = "cpu", **train_kwargs) -> list[dict]:
    cfg = TrainConfig(**{"epochs": 2, "batch_size": 8, "lr": 1e-2, "warmup_epochs": 0.5, **train_kwargs})
    with process_group(device) as ctx:
        trainer = Trainer(lambda: ToyModel(nan_under_amp, dropout), ToyDataset(n, delay_s=delay_s), cfg, exp_dir,
                          collate_fn=toy_collate, ctx=ctx, val_set=ToyDataset(8, seed=1),
                          run_info={"config": {"train": vars(cfg)}})
        return trainer.fit()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("exp_dir")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--save-every-steps", type=int, default=0)
    p.add_argument("--delay-s", type=float, default=0.0)
    p.add_argument("--amp", default="none")
    p.add_argument("--nan-under-amp", action="store_true")
    a = p.parse_args()
    train_toy(a.exp_dir, epochs=a.epochs, grad_accum=a.grad_accum, save_every_steps=a.save_every_steps,
              delay_s=a.delay_s, amp=a.amp, nan_under_amp=a.nan_under_amp)
    sys.exit(0)


def make_feature_data(root, lengths_frames: list[int], *, visual_dim: int = 6, audio_dim: int = 5,
                      name: str = "train", seed: int = 0, fake_every: int = 2) -> tuple[Path, Path, Path]:
    """Feature stores + a labelled manifest for clips of the given lengths; returns the three paths.

    Every ``fake_every``-th clip has one fake segment (modality cycling audio/visual/both) whose
    frames carry a shifted feature pattern, so a detector can learn something."""
    from avforge.core.types import ModifyType, VideoRecord
    from avforge.data.manifest import write_manifest
    from avforge.features.spec import EncoderSpec
    from avforge.features.store import FeatureStore

    root = Path(root)
    rng = np.random.default_rng(seed)
    stores = {}
    for modality, dim in (("visual", visual_dim), ("audio", audio_dim)):
        spec = EncoderSpec(f"toy-{modality}", modality, dim)
        stores[modality] = FeatureStore(root / f"{modality}_store", spec)
    records = []
    for i, n in enumerate(lengths_frames):
        visual = rng.normal(size=(n, visual_dim)).astype(np.float32)
        audio = rng.normal(size=(n, audio_dim)).astype(np.float32)
        segs, mtype = (), ModifyType.REAL
        if i % fake_every == 1:
            kind = ("audio", "visual", "both")[(i // fake_every) % 3]
            start = int(rng.integers(0, n - 12))
            segs = ((start / 25.0, (start + 10) / 25.0),)
            if kind in ("visual", "both"):
                visual[start:start + 10] += 2.0
            if kind in ("audio", "both"):
                audio[start:start + 10] -= 2.0
            mtype = ModifyType.from_flags(kind != "visual", kind != "audio")
        file = f"{name}/{i:03d}.mp4"
        stores["visual"].save(file, visual)
        stores["audio"].save(file, audio)
        records.append(VideoRecord(file=file, split=name, modify_type=mtype.value, fake_segments=segs,
                                   audio_fake_segments=segs if mtype.audio_fake else (),
                                   visual_fake_segments=segs if mtype.visual_fake else (), duration_s=n / 25.0))
    manifest = root / f"{name}.jsonl"
    write_manifest(manifest, records, root)
    return stores["visual"].root, stores["audio"].root, manifest
