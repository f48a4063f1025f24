"""``avforge infer``: localize forgeries in any video(s) with a trained checkpoint, no metadata needed.

    avforge infer clip.mp4 --checkpoint exp/small --plot clip.png
    avforge infer videos/ more.mp4 --checkpoint exp/small --out result.json --plot-dir plots/ \\
        --labels data/test.jsonl --crop detect --top-k 20 --html report.html

Folders are searched recursively (.mp4 .avi .mov .mkv .webm); their videos are keyed by their
path relative to the folder (``test/000001.mp4``), single files by the path as given. Per video:
decode in chunks (bounded memory), recompute the features the checkpoint was trained on (its
recorded encoder specs: the checkpoint folder is enough; pretrained weights are pointed to with
``--lip-weights`` / ``--audio-encoder`` and checked by hash), run the detector in sliding windows,
Soft-NMS (defaults from the checkpoint's config, or ``--config``'s infer and postprocess sections), print a table.

Outputs with ``--out result.json`` (all written atomically, after every video is done):
- ``result.json``: the challenge format ``{file: [[score, start_s, end_s], ...]}``, best first —
  only videos that succeeded, so the official evaluator and ``avforge submit`` accept it;
- ``result.modality.json``: ``{file: ["audio" | "visual" | "both", ...]}``, one label per row of
  ``result.json`` in the same order (the sidecar of ``avforge postprocess``);
- ``result.details.json``: checkpoint, encoders, settings, per video ``video_score`` (probability
  that it holds a forgery), duration, audio presence and ``frames``: every per-frame curve
  (``html_report.encode_curves``: uint8 base64), and ``errors``: ``{file: reason}``.
``--html report.html``: interactive pages (``avforge report`` makes them later from the outputs).
Segment caps: unless ``--top-k`` is given they grow with the video, ``PostprocessConfig.for_duration``
(the configured cap per started minute; challenge export keeps it fixed).
Exit status: 0 all videos done; 1 some videos failed (each named on stderr and in
``errors``; outputs hold the rest); 2 nothing done (bad checkpoint, arguments, or every video
failed: no output file is written).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from tqdm import tqdm

from avforge.cli import report
from avforge.cli.config_args import add_config_arguments, edited_config
from avforge.cli.postprocess import NMS_METHODS, postprocess_config
from avforge.core.errors import AvforgeError
from avforge.core.fileio import check_output, write_json_set
from avforge.engine.html_report import encode_curves, flat_name
from avforge.engine.inference import load_predictor
from avforge.engine.plot import plot_timeline
from avforge.engine.labels import Labels
from avforge.engine.video_inference import CROP_MODES, VideoInferencer, VideoResult, collect_videos
from avforge.features.encode import ChunkConfig
from avforge.io.mouth import mouth_strip
from avforge.postprocess import postprocess


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", metavar="VIDEO|DIR", help="video files and/or folders (recursive)")
    parser.add_argument("--checkpoint", required=True, type=Path, action="append",
                        help="checkpoint folder, an experiment folder (its newest checkpoint), or a recipe's (exp/NAME: "
                             "the members it scored); given again: "
                             "one ensemble, outputs averaged (same features and heads, e.g. other seeds)")
    parser.add_argument("--out", type=Path, help="result JSON (challenge format) + .modality/.details sidecars")
    plots = parser.add_mutually_exclusive_group()
    plots.add_argument("--plot", type=Path, metavar="PNG", help="timeline plot of the one video given")
    plots.add_argument("--plot-dir", type=Path, metavar="DIR", help="one timeline PNG per video in this folder")
    parser.add_argument("--labels", type=Path, metavar="FILE",
                        help="ground truth for the plots and the HTML report: manifest .jsonl, LAV-DF metadata.json or "
                             "AV-Deepfake1M {split}_metadata.json (in its dataset root)")
    parser.add_argument("--crop", choices=CROP_MODES, default="auto",
                        help="mouth crop: auto = as in training (detect finds the mouth in any video; fixed "
                             "assumes face-centred crops like LAV-DF's; avsr = Auto-AVSR's aligned crop)")
    parser.add_argument("--audio-encoder", metavar="NAME_OR_DIR",
                        help="re-point the audio encoder's pretrained weights: hub name or saved model folder "
                             "(checked against the hash the checkpoint recorded)")
    parser.add_argument("--lip-weights", metavar="FILE",
                        help="re-point the lip encoder's pretrained weights file (checked by hash)")
    parser.add_argument("--missing-audio", choices=("error", "silence"), default="error",
                        help="a video without an audio stream: error (default) or read it as silence")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("--chunk-s", type=float, default=ChunkConfig.chunk_s,
                        help="seconds decoded and encoded at once (bounds memory; default %(default)s)")
    parser.add_argument("--chunk-overlap-s", type=float, default=ChunkConfig.overlap_s,
                        help="encoder context shared by neighbouring chunks (default %(default)s)")
    parser.add_argument("--max-chunk-mb", type=float, default=ChunkConfig.max_chunk_mb,
                        help="decoded frames per chunk stay below this; large frames get shorter chunks "
                             "(default %(default)s)")
    add_config_arguments(parser, "infer and postprocess sections")
    parser.add_argument("--window-s", type=float, help="model sliding window, seconds (default: checkpoint config)")
    parser.add_argument("--overlap-s", type=float, help="model window overlap, seconds (default: checkpoint config)")
    parser.add_argument("--batch-windows", type=int, help="model windows per forward pass (default: checkpoint)")
    parser.add_argument("--nms", choices=sorted(NMS_METHODS), help="soft (Soft-NMS), hard (NMS) or none")
    parser.add_argument("--top-k", type=int, help="segments kept per video (0 = all; default: checkpoint config)")
    parser.add_argument("--score-threshold", type=float, help="drop segments scoring <= this")
    parser.add_argument("--pre-top-k", type=int, help="candidates kept before suppression (0 = all)")
    parser.add_argument("--sigma", type=float, help="Soft-NMS Gaussian width (BA-TFD alpha 0.7234)")
    parser.add_argument("--t1", type=float, help="Soft-NMS IoU threshold offset t1 (BA-TFD 0.1968)")
    parser.add_argument("--t2", type=float, help="Soft-NMS IoU threshold t2 (BA-TFD 0.4123)")
    parser.add_argument("--nms-iou", type=float, help="hard NMS IoU threshold")
    report.add_html_arguments(parser)
    parser.add_argument("--show", type=int, default=5, help="segments printed per video (default %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def sidecar(out: Path, kind: str) -> Path:
    return out.with_name(f"{out.stem}.{kind}.json")


def _check_writable(folder: Path) -> None:
    """Fail before any work when an output folder cannot be written (nothing is left behind)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise AvforgeError(f"cannot write output here ({exc.strerror or exc})", path=folder) from None


def format_result(result: VideoResult, show: int) -> str:
    p, raw = result.proposals, result.raw
    lines = [f"{result.file}  {raw.duration_s:.2f} s  video score {raw.video_score:.3f}  "
             f"({len(p)} segment{'s' * (len(p) != 1)}{'' if result.has_audio else ', no audio: read as silence'})"]
    if len(p):
        lines.append(f"  {'start_s':>9} {'end_s':>9} {'score':>7}  modality")
        modality = p.modality or ("both",) * len(p)
        for i in range(min(show, len(p))):
            lines.append(f"  {p.starts_s[i]:9.3f} {p.ends_s[i]:9.3f} {p.scores[i]:7.4f}  {modality[i]}")
        if len(p) > show:
            lines.append(f"  ... {len(p) - show} more")
    return "\n".join(lines)


def _plot_path(args, file: str) -> Path | None:
    if args.plot:
        return args.plot
    if args.plot_dir:  # "test/000001.mp4" -> test__000001.mp4.png; no "/" or ".." parts
        return args.plot_dir / (flat_name(file) + ".png")
    return None


def write_outputs(out: Path, results: list[VideoResult], errors: dict[str, str], info: dict) -> None:
    """The result and its sidecars, committed together: all three or none (write_json_set)."""
    modality = {r.file: list(r.proposals.modality or ()) for r in results}
    videos = {r.file: {"path": str(r.path), "duration_s": r.raw.duration_s, "video_score": r.raw.video_score,
                       "has_audio": r.has_audio, "segments": len(r.proposals), "fps": r.raw.fps,
                       "frames": encode_curves(r.raw.frame_probs)} for r in results}
    write_json_set({sidecar(out, "modality"): modality, sidecar(out, "details"): {**info, "videos": videos, "errors": errors},
                    out: {r.file: r.proposals.to_rows() for r in results}}, indent=1)


def run(args: argparse.Namespace) -> int:
    if args.show < 0:
        raise AvforgeError("--show must be >= 0")
    edited = edited_config(args)
    videos = collect_videos(args.videos)
    if args.plot and len(videos) != 1:
        raise AvforgeError(f"--plot draws one video, {len(videos)} given: use --plot-dir DIR")
    files = [args.out, sidecar(args.out, "modality"), sidecar(args.out, "details")] if args.out else []
    for path in files + [p for p in (args.plot, args.html) if p]:
        check_output(path)  # an existing folder (or device) as an output fails now, not after the work
    for folder in {p.parent for p in files + [p for p in (args.plot, args.html) if p]} | (
            {args.plot_dir} if args.plot_dir else set()):
        _check_writable(folder)
    chunk = ChunkConfig(args.chunk_s, args.chunk_overlap_s, args.missing_audio, args.max_chunk_mb)
    labels = Labels(args.labels) if args.labels else None
    pred = load_predictor(args.checkpoint, args.device)
    changes = {k: v for k, v in (("window_s", args.window_s), ("overlap_s", args.overlap_s),
                                 ("batch_windows", args.batch_windows)) if v is not None}
    sections = edited or pred.config
    post = postprocess_config(asdict(sections.postprocess), args)
    engine = VideoInferencer(pred, crop=args.crop, chunk=chunk, infer=replace(sections.infer, **changes),
                             post=post, device=args.device,
                             weights={"visual": args.lip_weights, "audio": args.audio_encoder})
    results, errors = [], {}
    bar = tqdm(videos, desc="infer", unit="video", disable=True if args.no_progress or len(videos) < 2 else None,
               dynamic_ncols=True)
    for video in bar:
        try:
            result = engine.run(video)
            if args.top_k is None:  # outside challenge export the cap grows with the video
                scaled = post.for_duration(result.raw.duration_s)
                if scaled != post:
                    result = replace(result, proposals=postprocess(result.raw.proposals, scaled).sorted())
            plot = _plot_path(args, video.file)
            if plot:
                truth = labels.find(video.path) if labels else None
                crops = mouth_strip(video.path, engine.crop) if engine.crop else None
                plot_timeline(plot, result.raw.frame_probs, result.proposals, fps=result.raw.fps, truth=truth,
                              title=f"{video.file}   video score {result.raw.video_score:.3f}   "
                                    f"(truth: {'unknown' if truth is None else truth.modify_type.value})",
                              crops=crops, crop_label=engine.crop or "")
        except AvforgeError as exc:
            errors[video.file] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad video never stops the others
            errors[video.file] = f"{video.path}: {type(exc).__name__}: {' '.join(str(exc).split())}"
        else:
            results.append(result)
            tqdm.write(format_result(result, args.show), file=sys.stdout)
        if video.file in errors and len(videos) > 1:  # a single video's error is the run's error
            tqdm.write(f"avforge infer: failed: {errors[video.file]}", file=sys.stderr)
    if not results:
        if len(videos) == 1:
            raise AvforgeError(next(iter(errors.values())))
        raise AvforgeError(f"all {len(videos)} videos failed (reasons above); no output written")
    if engine.crop == "fixed" and any(w != h for w, h in (r.size for r in results)):
        print("avforge infer: note: the mouth crop is 'fixed' (face-centred square videos); some videos are not "
              "square: --crop detect may suit them better", file=sys.stderr)
    info = {"checkpoint": str(pred.checkpoint.resolve()), "step": pred.step,
            **({"members": [str(m.resolve()) for m in pred.members]} if len(pred.members) > 1 else {}),
            "encoders": {m: pred.spec(m).to_dict() for m in ("visual", "audio")},
            "settings": {"crop": engine.crop, "chunk": asdict(chunk), "infer": asdict(engine.infer),
                         "postprocess": asdict(post), "caps_scale_with_duration": args.top_k is None}}
    if args.out:
        write_outputs(args.out, results, errors, info)
        print(f"wrote {args.out} ({len(results)} videos; modality -> {sidecar(args.out, 'modality')}, "
              f"scores and errors -> {sidecar(args.out, 'details')})", file=sys.stderr)
    if args.html:
        written = report.write(args.html, report.from_results(results, labels), {**info, "errors": errors},
                               embed=args.embed)
        print(f"wrote {args.html}" + (f" and {len(written) - 1} video pages" if len(written) > 1 else ""),
              file=sys.stderr)
    if errors:
        print(f"avforge infer: {len(errors)} of {len(videos)} videos failed", file=sys.stderr)
        return 1
    return 0
