"""``avforge predict``: run a checkpoint over cached features in sliding windows, caching raw outputs.

    avforge predict --checkpoint exp/small --manifest test.jsonl --visual-store feats/lip \
        --audio-store feats/logmel --out exp/small/raw_test

The raw folder (per-frame probabilities, pre-NMS candidates, video scores) feeds
``avforge postprocess``. Re-running with the same checkpoint resumes. Several checkpoints
(``--checkpoint exp/a --checkpoint exp/b``) run as one ensemble: their outputs averaged before decoding.
The sliding windows follow the checkpoint's ``infer`` config, or ``--config``'s (an edited config's
``infer`` section needs no retraining), then the ``--window-s`` / ``--overlap-s`` / ``--batch-windows`` flags.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from avforge.cli.config_args import add_config_arguments, edited_config
from avforge.engine.experiment import open_store
from avforge.engine.inference import load_predictor, predict_manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, action="append",
                        help="checkpoint folder, an experiment folder (its newest checkpoint), or a recipe's (exp/NAME: "
                             "the members it scored); given again: "
                             "one ensemble, outputs averaged (same features and heads, e.g. other seeds)")
    parser.add_argument("--manifest", required=True, type=Path, help="videos to run (JSON-lines manifest)")
    parser.add_argument("--visual-store", help="visual feature store (default: the training config's)")
    parser.add_argument("--audio-store", help="audio feature store (default: the training config's)")
    parser.add_argument("--out", required=True, type=Path, help="raw-output folder to write")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    add_config_arguments(parser, "infer section")
    parser.add_argument("--window-s", type=float, help="sliding-window length in seconds (default: config infer.window_s)")
    parser.add_argument("--overlap-s", type=float, help="window overlap in seconds (default: config infer.overlap_s)")
    parser.add_argument("--batch-windows", type=int, help="windows per forward pass (default: config)")


def run(args: argparse.Namespace) -> int:
    edited = edited_config(args)
    pred = load_predictor(args.checkpoint, args.device)
    infer = (edited or pred.config).infer
    changes = {k: v for k, v in (("window_s", args.window_s), ("overlap_s", args.overlap_s),
                                 ("batch_windows", args.batch_windows)) if v is not None}
    infer = replace(infer, **changes)
    visual = open_store(args.visual_store or pred.config.data.visual_store,
                        "no --visual-store given and the checkpoint's config names none")
    audio = open_store(args.audio_store or pred.config.data.audio_store,
                       "no --audio-store given and the checkpoint's config names none")
    files = predict_manifest(pred, args.manifest, visual, audio, args.out, infer)
    made_by = (f"an ensemble of {len(pred.members)} checkpoints" if len(pred.members) > 1
               else f"checkpoint {pred.checkpoint}")
    print(f"cached raw outputs of {len(files)} videos in {args.out} ({made_by})")
    return 0
