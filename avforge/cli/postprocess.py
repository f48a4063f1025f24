"""``avforge postprocess``: (Soft-)NMS the cached raw outputs of ``avforge predict`` into proposals.

    avforge postprocess --raw exp/small/raw_test --out exp/small/proposals.json --nms soft --top-k 100

Writes, atomically and only once everything is computed:
- ``--out``: the challenge format ``{file: [[score, start_s, end_s], ...]}``, highest score first;
- ``--modality-out`` (default ``<out stem>.modality.json``): ``{file: [modality, ...]}``, one
  label ("audio" | "visual" | "both") per row of ``--out``, in the same order — a sidecar, so
  the proposals file stays valid for the official evaluator and ``avforge submit``;
- ``--video-scores`` (default ``video_scores.json`` next to ``--out``): ``{file: score}``, the
  video-level fake probability for detection AUC (Task 1).
Defaults of every suppression option come from the checkpoint's ``postprocess`` config, or from
``--config``'s (an edited config's ``postprocess`` section needs no retraining); flags override both.
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, replace
from pathlib import Path

from avforge.cli.config_args import add_config_arguments, edited_config
from avforge.core.config import from_dict
from avforge.core.fileio import check_output, write_json_set
from avforge.engine.rawcache import load_raw, read_index
from avforge.postprocess import PostprocessConfig, postprocess

NMS_METHODS = {"soft": "soft_nms", "hard": "nms", "none": "none"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw", required=True, type=Path, help="raw-output folder of avforge predict")
    parser.add_argument("--out", required=True, type=Path, help="proposals JSON to write")
    parser.add_argument("--nms", choices=sorted(NMS_METHODS), help="soft (Gaussian Soft-NMS), hard (greedy NMS) or none")
    parser.add_argument("--top-k", type=int, help="proposals kept per video (0 = all)")
    parser.add_argument("--score-threshold", type=float, help="drop proposals scoring <= this")
    parser.add_argument("--pre-top-k", type=int, help="candidates kept before suppression (0 = all)")
    parser.add_argument("--sigma", type=float,
                        help="Soft-NMS Gaussian width: score *= exp(-iou^2 / sigma) (alpha in BA-TFD, 0.7234)")
    parser.add_argument("--t1", type=float, help="Soft-NMS IoU threshold offset t1 (BA-TFD 0.1968)")
    parser.add_argument("--t2", type=float, help="Soft-NMS IoU threshold t2 (BA-TFD 0.4123)")
    parser.add_argument("--nms-iou", type=float, help="hard NMS IoU threshold")
    add_config_arguments(parser, "postprocess section")
    parser.add_argument("--modality-out", type=Path, help="modality sidecar (default <out stem>.modality.json)")
    parser.add_argument("--video-scores", type=Path, help="video-level scores (default video_scores.json next to --out)")


def postprocess_config(saved: dict | None, args: argparse.Namespace) -> PostprocessConfig:
    cfg = from_dict(PostprocessConfig, saved or {}, "raw index postprocess")
    flags = {"method": NMS_METHODS.get(args.nms), "max_proposals": args.top_k, "min_score": args.score_threshold,
             "pre_topk": args.pre_top_k, "soft_nms_alpha": args.sigma, "soft_nms_t1": args.t1,
             "soft_nms_t2": args.t2, "nms_iou": args.nms_iou}
    return replace(cfg, **{k: v for k, v in flags.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    edited = edited_config(args)
    modality_out = args.modality_out or args.out.with_name(f"{args.out.stem}.modality.json")
    scores_out = args.video_scores or args.out.with_name("video_scores.json")
    for path in (args.out, modality_out, scores_out):
        check_output(path)  # before the work
    index = read_index(args.raw)
    saved = asdict(edited.postprocess) if edited else index.get("postprocess")
    cfg = postprocess_config(saved, args)
    proposals, modality, video_scores = {}, {}, {}
    for file in index["files"]:
        raw = load_raw(args.raw, file)
        p = postprocess(raw.proposals, cfg)
        proposals[file] = p.to_rows()
        modality[file] = list(p.modality or ())
        video_scores[file] = raw.video_score
    write_json_set({modality_out: modality, scores_out: video_scores, args.out: proposals})  # all or none
    print(f"{len(proposals)} videos, {sum(map(len, proposals.values()))} proposals ({cfg.method}, "
          f"top-k {cfg.max_proposals}) -> {args.out}; modality -> {modality_out}; video scores -> {scores_out}")
    print(f"settings: {asdict(cfg)}")
    return 0
