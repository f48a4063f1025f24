"""Self-contained interactive HTML report of one video, and an index page for several.

One page per video holds everything inline (``report_page/``: HTML, CSS and ~300 lines of
plain JavaScript drawing on a canvas; no library, no network), so it opens by double-click:
the video (referenced by a relative path, or inlined with ``embed`` up to EMBED_LIMIT_BYTES),
its audio loudness, every per-frame curve (fused / audio / visual p(fake) and any other curve
the result carries, e.g. ``sync``) on one time axis with a playhead, the predicted segments as
bands coloured by modality plus a filterable table, ground truth with the IoU of each match,
the mouth crops around the best segments and the settings that produced it.

Compact data: curves are quantised to uint8 (steps of 1/255) and base64-encoded, 4/3 byte per
frame and curve (an hour at 25 fps: 120 kB per curve). The page draws them per pixel column:
the column's maximum as the line and its min-max range as a band, so no one-frame spike is
lost at any zoom and drawing costs one pass over the frames in view.
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import cv2
import numpy as np

from avforge import __version__
from avforge.core.errors import AvforgeError
from avforge.core.fileio import write_text
from avforge.core.timegrid import TimeGrid
from avforge.core.types import Proposals, VideoRecord
from avforge.io.mouth import crop_mouth
from avforge.io.peaks import audio_peaks, frames_at
from avforge.postprocess import iou_one_to_many

PAGE_DIR = Path(__file__).with_name("report_page")
EMBED_LIMIT_BYTES = 20 << 20  # --embed inlines a video up to 20 MiB (the page grows by 4/3 of it)
CROP_SEGMENTS = 20  # the best segments that carry a strip of mouth crops
CROP_FRAMES = 8  # crops per strip, evenly over [start - CROP_PAD_S, end + CROP_PAD_S]
CROP_PAD_S = 0.5
CROP_PX = 80


@dataclass
class ReportVideo:
    """What one page shows about one video."""

    file: str  # the key in the result
    path: Path  # the video file
    duration_s: float
    video_score: float
    has_audio: bool
    curves: dict[str, np.ndarray]  # name -> (T,) values in [0, 1] on the fps grid ("fused" first)
    proposals: Proposals  # post-processed, with modality
    fps: float = 25.0
    truth: VideoRecord | None = None


# ----------------------------------------------------------------------------- compact curves
def encode_curves(curves: dict[str, np.ndarray]) -> dict[str, str]:
    """name -> base64 of the values quantised to uint8 (round(v * 255), clipped to [0, 1], NaN as 0)."""
    return {k: base64.b64encode(np.round(np.clip(np.nan_to_num(np.asarray(v, np.float64)), 0, 1) * 255)
                                .astype(np.uint8).tobytes()).decode("ascii") for k, v in curves.items()}


def decode_curves(encoded: dict[str, str]) -> dict[str, np.ndarray]:
    return {k: np.frombuffer(base64.b64decode(v), np.uint8).astype(np.float32) / 255 for k, v in encoded.items()}


# ----------------------------------------------------------------------------- ground truth
def truth_matches(truth: VideoRecord, proposals: Proposals, min_iou: float = 0.5) -> tuple[list[dict], list[float]]:
    """Per true fake segment: its modality, its matched prediction (index, None without any) and
    their IoU; per prediction: its best IoU with any true segment. The match is the highest-scoring
    prediction with IoU >= ``min_iou`` (the one AP@0.5 credits), else the one of highest IoU."""
    starts, ends = np.asarray(proposals.starts_s, float), np.asarray(proposals.ends_s, float)
    scores = np.asarray(proposals.scores, float)
    per_pred = np.zeros(len(starts))
    rows = []
    for (start, end), modality in zip(truth.fake_segments, truth.segment_modalities()):
        iou = iou_one_to_many(start, end, starts, ends)
        hits = np.flatnonzero(iou >= min_iou)
        best = int(hits[np.argmax(scores[hits])]) if len(hits) else int(np.argmax(iou)) if len(iou) else None
        rows.append({"start": float(start), "end": float(end), "modality": modality, "match": best,
                     "iou": float(iou[best]) if best is not None else 0.0})
        per_pred = np.maximum(per_pred, iou)
    return rows, [round(float(v), 4) for v in per_pred]


# ----------------------------------------------------------------------------- media
def video_source(video: Path, page: Path, embed: bool) -> tuple[str, str | None]:
    """(src for the page's <video>, a note or None): a data URI when embedding fits, else the
    path relative to the page (percent-encoded), or a file URI across drives."""
    if embed:
        size = video.stat().st_size
        if size <= EMBED_LIMIT_BYTES:
            mime = mimetypes.guess_type(video.name)[0] or "video/mp4"
            return f"data:{mime};base64,{base64.b64encode(video.read_bytes()).decode('ascii')}", None
        note = (f"{video.name} is {size / 2**20:.0f} MiB, over the {EMBED_LIMIT_BYTES >> 20} MiB embedding limit: "
                "the page refers to it by path")
    else:
        note = None
    try:
        return quote(Path(os.path.relpath(video.resolve(), page.resolve().parent)).as_posix()), note
    except ValueError:  # another drive (Windows)
        return video.resolve().as_uri(), note


def mouth_strips(video: Path, proposals: Proposals, duration_s: float, crop: str) -> dict[str, dict]:
    """{segment index: {"times": [s], "jpeg": [base64]}} for the CROP_SEGMENTS best segments:
    CROP_FRAMES mouth crops (``crop`` mode, as the visual encoder cut them) spread over each."""
    count = min(CROP_SEGMENTS, len(proposals))
    if not count:
        return {}
    grid = TimeGrid(25.0)
    times = [np.linspace(max(0.0, float(proposals.starts_s[i]) - CROP_PAD_S),
                         min(duration_s, float(proposals.ends_s[i]) + CROP_PAD_S) - 0.5 / grid.fps, CROP_FRAMES)
             for i in range(count)]
    frames = frames_at(video, np.concatenate(times))
    strips = {}
    for i in range(count):
        crops = crop_mouth(frames[i * CROP_FRAMES:(i + 1) * CROP_FRAMES], mode=crop, size=CROP_PX, gray=False)
        jpeg = [base64.b64encode(cv2.imencode(".jpg", cv2.cvtColor(c, cv2.COLOR_RGB2BGR),
                                              [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()).decode("ascii")
                for c in crops]
        strips[str(i)] = {"times": [round(float(t), 3) for t in times[i]], "jpeg": jpeg}
    return strips


# ----------------------------------------------------------------------------- pages
def page_data(video: ReportVideo, page: Path, settings: dict, *, embed: bool = False, crop: str = "fixed",
              cap_note: str = "") -> dict:
    """The JSON a page draws; reads the video file for its audio loudness and mouth crops."""
    p = video.proposals
    modality = p.modality or ("both",) * len(p)
    data = {"file": video.file, "duration_s": video.duration_s, "fps": video.fps, "video_score": video.video_score,
            "has_audio": video.has_audio, "curves": encode_curves(video.curves), "audio_peaks": None,
            "segments": [[round(float(s), 4), round(float(a), 3), round(float(b), 3), m]
                         for s, a, b, m in zip(p.scores, p.starts_s, p.ends_s, modality)],
            "truth": None, "segment_iou": None, "crops": {}, "video": {"src": ""}, "notes": [],
            "crops_note": f"Mouth crops are kept for the {CROP_SEGMENTS} best segments.", "cap_note": cap_note,
            "settings": settings, "version": __version__,
            "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if video.truth is not None:
        rows, per_pred = truth_matches(video.truth, p)
        data["truth"] = {"modify_type": video.truth.modify_type.value, "segments": rows}
        data["segment_iou"] = per_pred
    if not video.path.is_file():
        data["notes"].append(f"Video file not found: {video.path} (no playback, audio or mouth crops).")
        return data
    data["video"]["src"], note = video_source(video.path, page, embed)
    data["notes"] += [note] if note else []
    try:
        n_frames = len(next(iter(video.curves.values())))
        peaks = audio_peaks(video.path, n_frames, video.fps) if video.has_audio else None
        if peaks is not None:
            data["audio_peaks"] = encode_curves({"a": peaks / max(float(peaks.max()), 1e-6)})["a"]
        data["crops"] = mouth_strips(video.path, p, video.duration_s, crop)
    except AvforgeError as exc:
        data["notes"].append(f"Could not read the video for audio and mouth crops: {exc}")
    return data


def _fill(template: str, title: str, data: dict) -> str:
    css, js = (PAGE_DIR / "page.css").read_text(), (PAGE_DIR / "page.js").read_text()
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")  # never closes the <script>
    html = template.replace("__TITLE__", _escape(title)).replace("/*CSS*/", css).replace("/*JS*/", js)
    return html.replace("__DATA__", payload)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def render_page(data: dict) -> str:
    return _fill((PAGE_DIR / "page.html").read_text(), f"avforge · {data['file']}", data)


def flat_name(file: str) -> str:
    """A file name for a result key, no folders: ``test/000001.mp4`` -> ``test__000001.mp4``."""
    return "__".join(p for p in PurePosixPath(file).parts if p not in ("/", ".", ".."))


def render_index(rows: list[dict], errors: dict[str, str], title: str) -> str:
    """Videos sorted by fake score, highest first; ``rows``: file, href, video_score, duration_s, segments."""
    body = "".join(
        f'<tr><td><a href="{_escape(r["href"])}">{_escape(r["file"])}</a></td><td>{r["video_score"]:.3f}</td>'
        f'<td>{r["duration_s"]:.1f} s</td><td>{r["segments"]}</td><td>{r["best"]}</td></tr>'
        for r in sorted(rows, key=lambda r: -r["video_score"]))
    failed = "".join(f"<li>{_escape(v)}</li>" for v in errors.values())  # reasons name their file
    css = (PAGE_DIR / "page.css").read_text()
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_escape(title)}</title>'
            f"<style>{css}</style></head><body><header><h1>{_escape(title)}</h1>"
            f"<div>{len(rows)} videos, highest fake score first · avforge {__version__}</div></header><main><section>"
            '<table class="idx"><thead><tr><th>video</th><th>fake score</th><th>duration</th><th>segments</th>'
            f"<th>best segment</th></tr></thead><tbody>{body}</tbody></table></section>"
            + (f"<section><h2>Failed ({len(errors)})</h2><ul>{failed}</ul></section>" if errors else "")
            + "</main></body></html>")


def write_reports(html: Path, videos: list[ReportVideo], settings: dict, *, embed: bool = False,
                  crop: str = "fixed", errors: dict[str, str] | None = None, cap_note: str = "") -> list[Path]:
    """One video: its page at ``html``. Several: an index at ``html`` and one page per video in
    the folder ``<html stem>/``. Each file is written atomically; returns the paths written."""
    html = Path(html)
    if len(videos) == 1 and not errors:
        data = page_data(videos[0], html, settings, embed=embed, crop=crop, cap_note=cap_note)
        write_text(html, render_page(data))
        return [html]
    folder, written, rows = html.with_name(html.stem), [], []
    for video in videos:
        page = folder / (flat_name(video.file) + ".html")
        write_text(page, render_page(page_data(video, page, settings, embed=embed, crop=crop, cap_note=cap_note)))
        written.append(page)
        best = f"{video.proposals.scores.max():.3f}" if len(video.proposals) else "–"
        rows.append({"file": video.file, "href": f"{quote(folder.name)}/{quote(page.name)}", "segments": len(video.proposals),
                     "video_score": video.video_score, "duration_s": video.duration_s, "best": best})
    write_text(html, render_index(rows, errors or {}, f"avforge report · {html.stem}"))
    return [html, *written]
