"""Timeline PNG of one video: per-frame fake probabilities, predicted segments, ground truth.

Panels (shared time axis, seconds):
1. per-frame fake probability of the audio, visual and fused heads (0..1), ground-truth fake
   segments shaded behind them when known, and (models with a sync branch) the lip-speech
   agreement as a dashed green line: where it drops, lips and speech stop agreeing;
2. the highest-scoring predicted segments as bars at the height of their score, coloured by
   the modality they are attributed to;
3. (with labels) the ground truth per modality: audio-fake and visual-fake lanes;
4. (with ``crops``) mouth crops at their times, as the lip encoder gets them, and the crop mode.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from avforge.core.fileio import atomic_path  # noqa: E402
from avforge.core.timegrid import TimeGrid  # noqa: E402
from avforge.core.types import Proposals, VideoRecord  # noqa: E402

COLORS = {"audio": "tab:orange", "visual": "tab:blue", "both": "tab:purple", "fused": "black", "truth": "tab:red",
          "sync": "tab:green"}


def plot_timeline(path, frame_probs: dict[str, np.ndarray], proposals: Proposals, *, fps: float = 25.0,
                  truth: VideoRecord | None = None, title: str = "", max_segments: int = 10,
                  crops: list | None = None, crop_label: str = "") -> Path:
    """Write the timeline PNG to ``path`` atomically; returns ``path``.

    ``frame_probs``: "audio" / "visual" / "fused" -> (T,) probabilities on a ``fps`` grid; an
    optional "sync" (T,) lip-speech agreement in [0, 1] is drawn too.
    ``proposals``: post-processed segments (seconds) with modality; the ``max_segments``
    best are drawn. ``truth``: the labelled record, or None when unknown. ``crops``: (time_s,
    gray image) mouth crops drawn in a lane at their times, labelled ``crop_label``.
    """
    grid = TimeGrid(fps)
    n_frames = len(frame_probs["fused"])
    duration_s = float(grid.time_of(n_frames))
    t = grid.centers_s(n_frames)
    ratios = [3, 2] + [1] * (truth is not None) + [1.6] * bool(crops)
    fig, axes = plt.subplots(len(ratios), 1, figsize=(12, 2.2 * len(ratios) + 0.8), sharex=True,
                             gridspec_kw={"height_ratios": ratios})
    try:
        ax = axes[0]
        if truth is not None:
            for start_s, end_s in truth.fake_segments:
                ax.axvspan(start_s, end_s, color=COLORS["truth"], alpha=0.12, lw=0)
        for key, width in (("audio", 1.2), ("visual", 1.2), ("fused", 1.8)):
            ax.plot(t, frame_probs[key], color=COLORS[key], lw=width, label=f"{key} p(fake)")
        if "sync" in frame_probs:
            ax.plot(t, frame_probs["sync"], color=COLORS["sync"], lw=1.2, ls="--", label="lip-speech agreement")
        if truth is not None:
            ax.plot([], [], color=COLORS["truth"], alpha=0.3, lw=6, label="true fake")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("per frame")
        ax.legend(loc="upper right", fontsize=8, ncol=5)
        ax.set_title(title, fontsize=10)

        ax = axes[1]
        best = proposals.sorted()
        shown = min(len(best), max_segments)
        modality = best.modality or ("both",) * len(best)
        for i in range(shown):
            start_s, end_s, score = float(best.starts_s[i]), float(best.ends_s[i]), float(best.scores[i])
            ax.hlines(score, start_s, end_s, color=COLORS[modality[i]], lw=5, alpha=0.85)
        for name in ("audio", "visual", "both"):
            ax.plot([], [], color=COLORS[name], lw=5, label=name)
        ax.set_ylim(0.0, 1.05)
        ax.set_ylabel("segment score")
        ax.legend(loc="upper right", fontsize=8, ncol=3, title=f"top {shown} of {len(best)} segments",
                  title_fontsize=8)

        if truth is not None:
            ax = axes[2]
            lanes = ((1, "audio", truth.audio_fake_segments), (0, "visual", truth.visual_fake_segments))
            for y, name, segments in lanes:
                ax.broken_barh([(s, e - s) for s, e in segments], (y - 0.35, 0.7), color=COLORS[name])
            ax.set_yticks([0, 1], ["visual fake", "audio fake"])
            ax.set_ylim(-0.6, 1.6)
            ax.set_ylabel("truth")
        if crops:
            ax = axes[-1]
            width = 0.8 * max(duration_s, 1.0 / fps) / len(crops)
            for time_s, image in crops:
                ax.imshow(image, cmap="gray", vmin=0, vmax=255, aspect="auto",
                          extent=(time_s - width / 2, time_s + width / 2, 0, 1))
            ax.set_ylim(0, 1)
            ax.set_yticks([])
            ax.set_ylabel(f"mouth crop\n({crop_label})" if crop_label else "mouth crop")
        axes[-1].set_xlim(0.0, max(duration_s, 1.0 / fps))
        axes[-1].set_xlabel("time (s)")
        fig.tight_layout()
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    return Path(path)
