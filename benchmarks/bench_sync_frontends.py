"""Does a visual front end carry articulation? Train the same sync model on each, compare.
With ``--hidden 0 512`` each front end is also trained with towers that read every frame through
a two-layer MLP of that width (``model.sync_hidden``), side by side.

For every visual feature store given, a SyncNet (avforge/models/sync.py) is trained with the same
budget on the REAL clips of the train manifest only (self-supervised InfoNCE, no forgery label),
then measured on the val manifest:
- offset accuracy: on real frames, the share whose offset curve peaks within +-1 frame of 0
  (chance = 3 / (2K + 1) = 0.23 for K = 6);
- agreement real / forged: mean cos(visual_t, audio_t) on real frames and inside the forged
  segments of each modify type (a front end that sees the lips gives a large gap for
  visual_modified, whose audio is untouched).

    python benchmarks/bench_sync_frontends.py --manifests exp/mm/manifests --audio exp/mm/features/audio \
        --visual lip-light-16=exp/mm/features/visual lip-light-32=exp/mm/features/visual32 [--hidden 0 512]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from avforge.core.types import ModifyType
from avforge.data.dataset import FeatureDataset, collate
from avforge.data.manifest import read_manifest
from avforge.features.store import FeatureStore
from avforge.models.sync import SyncPretrainModel


def _loader(entries, visual, audio, max_frames, batch_size, shuffle, seed):
    data = FeatureDataset(entries, visual, audio, max_frames=max_frames, seed=seed)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle, collate_fn=collate,
                                       generator=torch.Generator().manual_seed(seed))


def evaluate(model: SyncPretrainModel, entries, visual, audio) -> dict:
    k = model.sync.max_offset_frames
    kinds = {e.record.file: e.record.modify_type.value for e in entries}
    hits, total, agree = 0, 0, {}
    with torch.no_grad():
        for batch in _loader(entries, visual, audio, None, 8, False, 0):
            out = model(batch)
            curve = model.sync.offset_curve(out.visual, out.audio, out.mask)
            fake = batch.frame_labels.bool()
            real = out.mask & ~fake
            peak = curve.argmax(-1)
            hits += int(((peak - k).abs() <= 1)[real].sum())
            total += int(real.sum())
            cos = curve[..., k]
            agree.setdefault("real", []).append(cos[real])
            for i, file in enumerate(batch.files):
                if fake[i].any():
                    agree.setdefault(kinds[file], []).append(cos[i][fake[i]])
    return {"offset_accuracy": hits / max(total, 1),
            **{f"agreement {t}": float(torch.cat(v).mean()) for t, v in sorted(agree.items())}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifests", required=True, help="folder with train.jsonl and val.jsonl")
    p.add_argument("--audio", required=True, help="audio feature store")
    p.add_argument("--visual", nargs="+", required=True, metavar="NAME=STORE")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-frames", type=int, default=128)
    p.add_argument("--hidden", type=int, nargs="+", default=[0], help="model.sync_hidden values to compare")
    args = p.parse_args(argv)
    train = [e for e in read_manifest(f"{args.manifests}/train.jsonl") if e.record.modify_type is ModifyType.REAL]
    val = read_manifest(f"{args.manifests}/val.jsonl")
    audio = FeatureStore(args.audio)
    rows = []
    for item, hidden in [(v, h) for v in args.visual for h in args.hidden]:
        name, _, root = item.partition("=")
        name = f"{name}, hidden {hidden}" if len(args.hidden) > 1 else name
        visual = FeatureStore(root)
        torch.manual_seed(0)
        model = SyncPretrainModel(visual.dim, audio.dim, dim=64, max_offset_frames=6, exclude_frames=2,
                                  temperature=0.1, hidden=hidden)
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
        start = time.perf_counter()
        for epoch in range(args.epochs):
            for batch in _loader(train, visual, audio, args.max_frames, args.batch_size, True, epoch):
                loss = model.loss(model(batch), batch)["total"]
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        rows.append((name, visual.dim, time.perf_counter() - start, evaluate(model, val, visual, audio)))
        print(f"{name}: {rows[-1][3]}", flush=True)
    keys = list(rows[0][3])
    print(f"\nsync trained {args.epochs} epochs on {len(train)} real clips; measured on {len(val)} val clips")
    print("| front end | dim | " + " | ".join(keys) + " | train s |")
    print("|---|---|" + "---|" * (len(keys) + 1))
    for name, dim, secs, m in rows:
        print(f"| {name} | {dim} | " + " | ".join(f"{m[k]:.3f}" for k in keys) + f" | {secs:.0f} |")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
