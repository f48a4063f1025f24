"""``avforge train``: train (or resume) a detector from a YAML config; torchrun for DDP.

    avforge train --config synthetic_small --exp-dir exp/small --set train.lr=1e-3
    python -m torch.distributed.run --nproc_per_node 2 -m avforge train --config CFG --exp-dir DIR

Re-running the same command resumes from the newest checkpoint in ``DIR/checkpoints``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from avforge.engine.config import load_experiment, shipped_configs
from avforge.engine.experiment import train_experiment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True,
                        help=f"YAML file, or a shipped config name ({', '.join(shipped_configs())})")
    parser.add_argument("--exp-dir", required=True, type=Path,
                        help="experiment folder: config.yaml, metrics.jsonl, checkpoints/ (resumed if present)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.lr=1e-3 (repeatable)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (torchrun: one GPU per process)")


def run(args: argparse.Namespace) -> int:
    cfg = load_experiment(args.config, args.overrides)
    train_experiment(cfg, args.exp_dir, device=args.device)
    return 0
