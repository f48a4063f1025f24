"""Planted-discrepancy synthetic features for model tests (no media, no stores).

Real frames: both streams are noisy linear views of one shared latent "speech content".
A fake segment (continuous start/end, not frame aligned) swaps the content of the forged
modality for unrelated content, weighted by how much of each frame the segment covers, and
adds a weak modality-specific artefact, so the boundary is visible to sub-frame precision.
"""
from __future__ import annotations

import numpy as np
import torch

from avforge.core.batch import Batch
from avforge.core.types import MODALITIES
from avforge.core.timegrid import VIDEO_GRID

LATENT, VISUAL_DIM, AUDIO_DIM = 8, 24, 16


def coverage(n_frames: int, segments_frames) -> np.ndarray:
    """(T,) fraction of each frame [t, t+1) covered by the segments."""
    t = np.arange(n_frames, dtype=np.float64)
    cov = np.zeros(n_frames)
    for s, e in segments_frames:
        cov += np.clip(np.minimum(t + 1, e) - np.maximum(t, s), 0, 1)
    return np.clip(cov, 0, 1)


class PlantedGenerator:
    def __init__(self, seed: int = 0, noise: float = 0.1):
        rng = np.random.default_rng(1234)  # the "world" (projections, artefacts) is fixed
        self.w_visual = rng.normal(size=(LATENT, VISUAL_DIM)) / np.sqrt(LATENT)
        self.w_audio = rng.normal(size=(LATENT, AUDIO_DIM)) / np.sqrt(LATENT)
        self.art_visual = rng.normal(size=VISUAL_DIM) * 0.5
        self.art_audio = rng.normal(size=AUDIO_DIM) * 0.5
        self.rng = np.random.default_rng(seed)
        self.noise = noise

    def _content(self, n: int) -> np.ndarray:
        """Piecewise-constant latent (a new 'phoneme' every 2-5 frames) plus jitter."""
        out, t = np.zeros((n, LATENT)), 0
        while t < n:
            step = int(self.rng.integers(2, 6))
            out[t:t + step] = self.rng.normal(size=LATENT)
            t += step
        return out + 0.1 * self.rng.normal(size=(n, LATENT))

    def _segments(self, n: int, max_segments: int):
        """Non-overlapping segments in frames with random continuous boundaries + modality ids."""
        k = int(self.rng.integers(0, max_segments + 1))
        segs, mods = [], []
        for _ in range(20 * k):
            if len(segs) == k:
                break
            length = self.rng.uniform(5, 20)
            start = self.rng.uniform(1, n - length - 1)
            if all(start > e + 3 or start + length < s - 3 for s, e in segs):
                segs.append((start, start + length))
                mods.append(int(self.rng.integers(0, 3)))
        order = np.argsort([s for s, _ in segs])
        return [segs[i] for i in order], [mods[i] for i in order]

    def clip(self, n: int, max_segments: int = 2):
        """One clip: visual (T, Cv), audio (T, Ca), segments (N, 2) seconds, modality ids (N,)."""
        segs, mods = self._segments(n, max_segments)
        fa = coverage(n, [s for s, m in zip(segs, mods) if MODALITIES[m] in ("audio", "both")])[:, None]
        fv = coverage(n, [s for s, m in zip(segs, mods) if MODALITIES[m] in ("visual", "both")])[:, None]
        z, z_audio, z_visual = self._content(n), self._content(n), self._content(n)
        audio = ((1 - fa) * z + fa * z_audio) @ self.w_audio + fa * self.art_audio
        visual = ((1 - fv) * z + fv * z_visual) @ self.w_visual + fv * self.art_visual
        audio = audio + self.noise * self.rng.normal(size=audio.shape)
        visual = visual + self.noise * self.rng.normal(size=visual.shape)
        seconds = VIDEO_GRID.to_seconds(np.asarray(segs, dtype=np.float64).reshape(-1, 2))
        return visual.astype(np.float32), audio.astype(np.float32), seconds, np.asarray(mods, dtype=np.int64)

    def batch(self, n_clips: int, n_frames: int, max_segments: int = 2, files_prefix: str = "clip") -> Batch:
        clips = [self.clip(n_frames, max_segments) for _ in range(n_clips)]
        def labels(which):
            rows = []
            for _, _, segs, mods in clips:
                keep = [s for s, m in zip(segs, mods) if which is None or MODALITIES[m] in (which, "both")]
                rows.append(VIDEO_GRID.segments_to_mask(keep, n_frames))
            return torch.tensor(np.stack(rows), dtype=torch.float32)
        return Batch(
            files=[f"{files_prefix}{i}.mp4" for i in range(n_clips)],
            visual=torch.from_numpy(np.stack([c[0] for c in clips])),
            audio=torch.from_numpy(np.stack([c[1] for c in clips])),
            mask=torch.ones(n_clips, n_frames, dtype=torch.bool),
            offset_s=torch.zeros(n_clips, dtype=torch.float64),
            duration_s=torch.full((n_clips,), float(VIDEO_GRID.time_of(n_frames)), dtype=torch.float64),
            frame_labels=labels(None), audio_labels=labels("audio"), visual_labels=labels("visual"),
            segments=[torch.from_numpy(c[2]).float() for c in clips],
            segment_modality=[torch.from_numpy(c[3]) for c in clips])


def average_precision(proposals, segments, iou_threshold: float) -> float:
    """AP with ground-truth-first greedy matching (IoU > t), all-point interpolation."""
    scored, n_gt = [], 0
    for props, gts in zip(proposals, segments):
        gts = np.asarray(gts, dtype=np.float64).reshape(-1, 2)
        n_gt += len(gts)
        order = np.argsort(-props.scores, kind="stable")
        starts, ends, scores = props.starts_s[order], props.ends_s[order], props.scores[order]
        tp = np.zeros(len(scores), dtype=bool)
        for s, e in gts:
            inter = np.clip(np.minimum(e, ends) - np.maximum(s, starts), 0, None)
            iou = inter / (np.maximum(e, ends) - np.minimum(s, starts))
            hit = np.flatnonzero((iou > iou_threshold) & ~tp)
            if len(hit):
                tp[hit[0]] = True
        scored += list(zip(scores, tp))
    if n_gt == 0 or not scored:
        return 0.0
    scored.sort(key=lambda x: -x[0])
    hits = np.cumsum([t for _, t in scored])
    precision = hits / np.arange(1, len(scored) + 1)
    recall = hits / n_gt
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))
