"""``avforge report``: interactive HTML pages from a finished ``avforge infer --out`` run, no re-inference.

    avforge report result.json --html report.html --labels data/test.jsonl

Reads ``result.json`` with its ``.modality`` and ``.details`` sidecars (the details hold each
video's per-frame curves and the settings); the videos themselves are read again only for their
audio loudness and mouth crops. One video gives one page; several give an index page at
``--html`` (highest fake score first) linking one page per video in ``<html stem>/``. The same
pages come straight from ``avforge infer ... --html``. What a page shows:
``avforge.engine.html_report``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from avforge.core.errors import AvforgeError
from avforge.core.fileio import read_json
from avforge.core.types import Proposals
from avforge.engine.html_report import EMBED_LIMIT_BYTES, ReportVideo, decode_curves, write_reports
from avforge.engine.labels import Labels
from avforge.engine.video_inference import VideoResult


def add_html_arguments(parser: argparse.ArgumentParser) -> None:
    """``--html`` / ``--embed``, shared with ``avforge infer``."""
    parser.add_argument("--html", type=Path, metavar="HTML",
                        help="interactive report: one page for one video; for several, an index page here and "
                             "one page per video in the folder <HTML stem>/")
    parser.add_argument("--embed", action="store_true",
                        help=f"inline each video in its page (up to {EMBED_LIMIT_BYTES >> 20} MiB; larger ones "
                             "stay referenced by relative path)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("result", type=Path, help="result.json of avforge infer --out (sidecars next to it)")
    parser.add_argument("--labels", type=Path, metavar="FILE",
                        help="ground truth: manifest .jsonl, LAV-DF metadata.json or AV-Deepfake1M {split}_metadata.json")
    add_html_arguments(parser)


def from_results(results: list[VideoResult], labels: Labels | None) -> list[ReportVideo]:
    return [ReportVideo(r.file, r.path, r.raw.duration_s, r.raw.video_score, r.has_audio, r.raw.frame_probs,
                        r.proposals, r.raw.fps, labels.find(r.path) if labels else None) for r in results]


def from_files(result: Path, labels: Labels | None) -> tuple[list[ReportVideo], dict]:
    """The videos of a finished run and its details (settings, errors)."""
    side = {k: result.with_name(f"{result.stem}.{k}.json") for k in ("modality", "details")}
    for path in (result, *side.values()):
        if not path.is_file():
            raise AvforgeError("not found (avforge report needs the result of avforge infer --out and its "
                               ".modality / .details sidecars)", path=path)
    rows, modality, details = read_json(result), read_json(side["modality"]), read_json(side["details"])
    videos = []
    for file, info in details.get("videos", {}).items():
        if "frames" not in info:
            raise AvforgeError(f"no per-frame curves for {file!r} (written by an older avforge infer: run it again)",
                               path=side["details"])
        if file not in rows:
            raise AvforgeError(f"{file!r} is in the details but not in the result", path=result)
        p = Proposals.from_rows(rows[file])
        mods = tuple(modality.get(file) or ("both",) * len(p))
        if len(mods) != len(p):
            raise AvforgeError(f"{file!r}: {len(mods)} modality labels for {len(p)} segments", path=side["modality"])
        path = Path(info["path"])
        if not path.is_absolute() and not path.exists() and (result.parent / path).exists():
            path = result.parent / path
        videos.append(ReportVideo(file, path, float(info["duration_s"]), float(info["video_score"]),
                                  bool(info["has_audio"]), decode_curves(info["frames"]),
                                  Proposals(p.scores, p.starts_s, p.ends_s, mods), float(info.get("fps", 25.0)),
                                  labels.find(path) if labels else None))
    if not videos:
        raise AvforgeError("no videos in the details", path=side["details"])
    return videos, details


def write(html: Path, videos: list[ReportVideo], details: dict, *, embed: bool = False) -> list[Path]:
    """Pages for ``videos`` with the settings of ``details`` (as ``avforge infer`` writes it)."""
    settings = {k: details[k] for k in ("checkpoint", "step", "encoders", "settings") if k in details}
    post = details.get("settings", {}).get("postprocess", {})
    cap_note = (f"cap {post.get('max_proposals')} segments per started minute"
                if details.get("settings", {}).get("caps_scale_with_duration") else "")
    return write_reports(html, videos, settings, embed=embed, crop=details.get("settings", {}).get("crop") or "fixed",
                         errors=details.get("errors") or {}, cap_note=cap_note)


def run(args: argparse.Namespace) -> int:
    if args.html is None:
        raise AvforgeError("give --html REPORT.html")
    labels = Labels(args.labels) if args.labels else None
    videos, details = from_files(args.result, labels)
    written = write(args.html, videos, details, embed=args.embed)
    print(f"wrote {written[0]}" + (f" and {len(written) - 1} video pages" if len(written) > 1 else ""))
    return 0
