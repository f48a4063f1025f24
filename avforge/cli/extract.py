"""``avforge extract``: encode every video of a manifest into a resumable feature store.

    avforge extract --manifest test.jsonl --encoder lip-light --out feats/visual
    avforge extract --manifest test.jsonl --encoder hf --model microsoft/wavlm-base-plus --layer weighted \\
        --out feats/audio --device cuda --batch-size 16
    torchrun --nproc_per_node 8 -m avforge extract ... --device cuda   # each rank takes its shard

Exit status: 0 every video done; 1 some failed (the rest are written; reasons in failures.jsonl;
a re-run retries them); 2 a bad argument or an error writing the store (disk full). Re-running
skips videos already done; ``--shard i/n`` splits the work across independent jobs.
``--dtype float16 --layout packed``: half the bytes, a few large files instead of one per video.
"""
from __future__ import annotations

import os
import sys

from avforge.core.errors import AvforgeError
from avforge.data.manifest import read_manifest
from avforge.features.extract import Shard, VideoItem, extract
from avforge.features.registry import build_encoder, encoder_names
from avforge.features.store import FAILURES_NAME, LAYOUTS, STORAGE_DTYPES, FeatureStore
from avforge.io.mouth import MODES as MOUTH_MODES

# CLI flag -> encoder option; passed only when given, so an encoder rejects flags it has no use for.
ENCODER_FLAGS = ("model", "layer", "crop", "variant", "checkpoint", "size")


def add_arguments(parser) -> None:
    parser.add_argument("--manifest", required=True, help="JSON-lines manifest (avforge manifest)")
    parser.add_argument("--encoder", required=True, choices=encoder_names())
    parser.add_argument("--out", required=True, help="feature store folder (one per encoder)")
    parser.add_argument("--model", help="hf: hub name or local folder of a WavLM/wav2vec2/HuBERT model")
    parser.add_argument("--layer", help="hf: hidden-state index, 'last' (default) or 'weighted'")
    parser.add_argument("--crop", choices=MOUTH_MODES,
                        help="visual encoders: mouth crop (default: avsr for --variant auto-avsr, else detect)")
    parser.add_argument("--variant", help="lip-resnet: 'small' (default) or 'auto-avsr'")
    parser.add_argument("--size", type=int, help="lip-light: side of the pooled gray mouth image (default 16)")
    parser.add_argument("--checkpoint", help="lip-resnet: Auto-AVSR visual checkpoint (.pth/.safetensors)")
    parser.add_argument("--shard", help="i/n: take every n-th video starting at i (default: RANK/WORLD_SIZE)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (under torchrun: LOCAL_RANK's GPU)")
    parser.add_argument("--batch-size", type=int, default=1, help="clips per forward pass (GPU)")
    parser.add_argument("--workers", type=int, default=2, help="decoder threads reading ahead")
    parser.add_argument("--dtype", choices=STORAGE_DTYPES,
                        help="storage of a new store: float32 (default) or float16 (half the size; read as float32)")
    parser.add_argument("--layout", choices=LAYOUTS, help="new store: files (one .npy per video, default) or "
                        "packed (a few large files: for a million videos on a cluster file system)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _device(name: str) -> str:
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return name


def run(args) -> int:
    if args.batch_size < 1:
        raise AvforgeError("--batch-size must be >= 1")
    shard = Shard.parse(args.shard) if args.shard else Shard.from_env()
    items = [VideoItem(e.record.file, e.path) for e in read_manifest(args.manifest)]
    opts = {k: getattr(args, k) for k in ENCODER_FLAGS if getattr(args, k) is not None}
    encoder = build_encoder(args.encoder, device=_device(args.device), **opts)
    store = FeatureStore(args.out, spec=encoder.spec, dtype=args.dtype, layout=args.layout)
    summary = extract(items, encoder, store, shard=shard, batch_size=args.batch_size,
                      workers=args.workers, progress=not args.no_progress)
    where = f" [shard {shard.index}/{shard.count}]" if shard.count > 1 else ""
    print(f"avforge extract{where}: {summary.line()} -> {args.out}", file=sys.stderr)
    if summary.failed:
        print(f"avforge extract{where}: {summary.failed} videos failed (reasons: {store.root / FAILURES_NAME}); "
              "exit status 1", file=sys.stderr)
        return 1
    return 0
