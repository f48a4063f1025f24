"""Auto-AVSR's mouth region of interest, as its public visual models were trained on.

The published preparation (mpc001/auto_avsr, MediaPipe path; facts in the project notes):
four points per frame — right eye, left eye, nose tip, mouth centre (here from yuface: the
mouth centre is the mean of the two mouth corners); frames without a face linearly
interpolated between detected ones, ends held; each frame's points smoothed as the mean over
frames ``i-m .. i+m`` with ``m = min(6, i, T-1-i)``, shifted back onto the frame's own centroid;
a similarity transform (OpenCV ``estimateAffinePartial2D``, LMEDS) onto the mean-face reference
points in a 256 x 256 space; the gray frame warped (linear, black border); a 96 x 96 patch
centred on the transformed mouth centre. The encoder then centre-crops 88 x 88 and normalises.

Differences, all deliberate: yuface instead of MediaPipe (MediaPipe's offline models need
numpy < 2; both give whole-pixel points); a patch that would leave the 256 x 256 space is
padded with black instead of failing; a clip with no face at all gets the ``fixed`` crop (the
caller's fallback).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from avforge.io.faces import face_points

# Mean-face reference (Auto-AVSR's 20words_mean_face.npy, means of the eye, nose and mouth groups
# of its 68 points), x, y in the 256 x 256 target space: right eye, left eye, nose tip, mouth centre.
REFERENCE = np.array([[102.0739, 94.2723], [156.3613, 93.5782], [129.0037, 135.9034], [129.3134, 157.8230]])
TARGET_SIZE, CROP_SIZE, SMOOTH_MARGIN = 256, 96, 6


@dataclass
class AvsrTrack:
    points: np.ndarray  # (T, 4, 2) smoothed right eye, left eye, nose tip, mouth centre (frame pixels)
    transforms: np.ndarray  # (T, 2, 3) frame -> 256 x 256 reference space
    found: np.ndarray  # (T,) bool: a face was detected in this frame

    def mouth_centres(self) -> np.ndarray:
        """(T, 2) the mouth centre in the reference space (the patch centre)."""
        return np.einsum("tij,tj->ti", self.transforms[:, :, :2], self.points[:, 3]) + self.transforms[:, :, 2]


def four_points(frames: np.ndarray) -> np.ndarray:
    """(T, 4, 2) eyes, nose tip and mouth centre per RGB frame; NaN where no face."""
    out = np.full((len(frames), 4, 2), np.nan)
    for t, frame in enumerate(frames):
        p = face_points(frame)
        if p is not None:
            out[t] = np.concatenate([p[:3], p[3:].mean(axis=0, keepdims=True)])
    return out


def fill_gaps(points: np.ndarray) -> np.ndarray:
    """Missing frames linearly interpolated between detected ones; leading/trailing gaps held."""
    found = ~np.isnan(points).any(axis=(1, 2))
    idx = np.flatnonzero(found)
    t = np.arange(len(points))
    flat = points.reshape(len(points), -1)
    return np.stack([np.interp(t, idx, flat[idx, k]) for k in range(flat.shape[1])], axis=1).reshape(points.shape)


def smooth(points: np.ndarray) -> np.ndarray:
    """Mean over frames ``i-m .. i+m`` (m = min(6, i, T-1-i)), re-centred on frame i's centroid."""
    n = len(points)
    out = np.empty_like(points)
    for i in range(n):
        m = min(SMOOTH_MARGIN, i, n - 1 - i)
        mean = points[i - m:i + m + 1].mean(axis=0)
        out[i] = mean + points[i].mean(axis=0) - mean.mean(axis=0)
    return out


def track(frames: np.ndarray) -> AvsrTrack | None:
    """Smoothed points and similarity transforms of a clip; None when no frame has a face."""
    raw = four_points(frames)
    found = ~np.isnan(raw).any(axis=(1, 2))
    if not found.any():
        return None
    points = smooth(fill_gaps(raw))
    transforms = np.empty((len(points), 2, 3))
    for t, p in enumerate(points):
        m = cv2.estimateAffinePartial2D(p.astype(np.float32), REFERENCE.astype(np.float32), method=cv2.LMEDS)[0]
        if m is None:  # LMEDS found no model (degenerate points): keep the last one, or just translate
            m = transforms[t - 1] if t else np.hstack([np.eye(2), (REFERENCE.mean(0) - p.mean(0))[:, None]])
        transforms[t] = m
    return AvsrTrack(points, transforms, found)


def avsr_crops(frames: np.ndarray, gray: bool = True) -> np.ndarray | None:
    """(T, 96, 96) gray (or (T, 96, 96, 3) RGB) Auto-AVSR mouth patches; None without any face."""
    found = track(frames)
    if found is None:
        return None
    half = CROP_SIZE // 2
    out = np.zeros((len(frames), CROP_SIZE, CROP_SIZE) + (() if gray else (3,)), np.uint8)
    for t, (frame, m, (cx, cy)) in enumerate(zip(frames, found.transforms, found.mouth_centres())):
        image = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if gray else frame
        warped = cv2.warpAffine(image, m, (TARGET_SIZE, TARGET_SIZE), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        y0, x0 = int(round(cy)) - half, int(round(cx)) - half  # = round(c - 48): 48 is whole
        ys = slice(max(y0, 0), min(y0 + CROP_SIZE, TARGET_SIZE))
        xs = slice(max(x0, 0), min(x0 + CROP_SIZE, TARGET_SIZE))
        out[t, ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = warped[ys, xs]
    return out
