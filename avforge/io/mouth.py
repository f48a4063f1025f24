"""Mouth-region clips: a fixed lower-face box, a detected one, or Auto-AVSR's aligned crop.

A box is ``(cx, cy, side)`` in pixels of the frame: a square around the mouth that is cut out and
resized to ``size x size`` (edges replicated where it leaves the frame).

- ``fixed``: LAV-DF and AV-Deepfake1M frames are 224x224 face crops (VoxCeleb2 style) with the
  mouth near 0.72 of the height; FIXED_MOUTH_BOX is a square of 0.375 of the frame side centred
  there (x 0.31-0.69, y 0.53-0.91: lips and chin), the share of the face that Auto-AVSR's
  96-of-256 mouth ROI takes. It stays below the eyes: a box that reaches them (the former half-
  frame box did, with head motion) turns every blink into lip motion that no speech explains.
- ``detect``: for arbitrary videos, and for face crops whose mouth is not where the fixed box
  expects it. yuface (libfacedetection: face box + eyes, nose and both mouth corners) on every
  DETECT_EVERY_FRAMES-th frame and the last; the box is centred between the mouth corners with a
  side of 1.4 x the distance from the eyes' midpoint to the mouth's (Auto-AVSR's ROI is 1.5 x, and
  this is about the fixed box for a face-centred crop), so every speaker's mouth lands at the same
  place and scale, and the box's top edge stays at 0.7 of the way up to the eyes, whatever the
  face's proportions: no blink gets in. Without yuface, OpenCV's Haar frontal-face cascade:
  centre at (0.5, 0.76) of the face box, side 0.47 x its width (yuface's box on the same
  portrait). Frames between detections and frames without a face are interpolated linearly
  between the nearest found boxes (held before the first and after the last), the track is
  smoothed with a centred moving average, and a clip with no face at all falls back to the
  fixed box.
- ``avsr``: the alignment Auto-AVSR's visual models were trained on (``mouth_avsr``): four
  face points, smoothed, a similarity transform onto a mean face, 96 x 96 around the mouth
  centre. A clip with no face at all falls back to the fixed box.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np
from scipy.ndimage import uniform_filter1d

from avforge.io.faces import downscale, face_points, yuface
from avforge.io.mouth_avsr import avsr_crops

FIXED_MOUTH_BOX = (0.5, 0.72, 0.375)  # (cx, cy, side) as fractions of frame (width, height, height)
SIDE_PER_EYE_MOUTH_DISTANCE = 1.4
HAAR_MOUTH = (0.5, 0.76, 0.47)  # (cx, cy, side) as fractions of the Haar face box width/height
SMOOTH_FRAMES = 5  # centred moving average over 0.2 s at 25 fps
DETECT_EVERY_FRAMES = 5  # detect at 5 fps: ~6 ms per frame, a fifth of the cost of every frame
MODES = ("fixed", "detect", "avsr")


def crop_mouth(frames: np.ndarray, mode: str = "fixed", size: int = 96, gray: bool = True) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T, size, size) uint8 grayscale, or (T, size, size, 3) RGB."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "avsr" and len(frames):
        aligned = avsr_crops(frames, gray=gray)
        if aligned is not None:
            return aligned if size == aligned.shape[1] else np.stack(
                [cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA) for a in aligned])
        mode = "fixed"
    boxes = mouth_boxes(frames, mode)
    out = np.empty((len(frames), size, size) + (() if gray else (3,)), dtype=np.uint8)
    for t, (frame, box) in enumerate(zip(frames, boxes)):
        crop = _warp_box(frame, box, size)
        out[t] = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if gray else crop
    return out


def mouth_boxes(frames: np.ndarray, mode: str = "fixed") -> np.ndarray:
    """(T, 3) float ``(cx, cy, side)`` mouth box of every frame, in pixels."""
    if mode not in ("fixed", "detect"):
        raise ValueError(f"mode must be 'fixed' or 'detect', got {mode!r}")
    n, height, width = frames.shape[:3]
    fixed = np.array([FIXED_MOUTH_BOX[0] * width, FIXED_MOUTH_BOX[1] * height, FIXED_MOUTH_BOX[2] * height])
    if mode == "fixed" or n == 0:
        return np.tile(fixed, (n, 1))
    detect = _detect_yuface if yuface is not None else _detect_haar
    found = np.full((n, 3), np.nan)
    for t in np.unique(np.r_[np.arange(0, n, DETECT_EVERY_FRAMES), n - 1]):
        found[t] = detect(frames[t])
    return smooth_track(found, fallback=fixed)


def smooth_track(found: np.ndarray, fallback: np.ndarray, window: int = SMOOTH_FRAMES) -> np.ndarray:
    """(T, 3) boxes with NaN rows for frames without one -> interpolated linearly between the
    nearest boxes (held before the first and after the last), then moving-averaged."""
    hit = ~np.isnan(found).any(axis=1)
    if not hit.any():
        return np.tile(fallback, (len(found), 1))
    t = np.arange(len(found))
    filled = np.stack([np.interp(t, t[hit], found[hit, c]) for c in range(found.shape[1])], axis=1)
    return uniform_filter1d(filled, size=window, axis=0, mode="nearest")


def _detect_yuface(frame: np.ndarray) -> tuple[float, float, float]:
    """Mouth box from the largest face's mouth corners and eyes; NaNs when no face."""
    p = face_points(frame)
    if p is None:
        return (np.nan,) * 3
    (cx, cy), eyes = p[3:].mean(axis=0), p[:2].mean(axis=0)
    return cx, cy, SIDE_PER_EYE_MOUTH_DISTANCE * np.hypot(cx - eyes[0], cy - eyes[1])


@functools.lru_cache(maxsize=1)
def _haar_cascade() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def _detect_haar(frame: np.ndarray) -> tuple[float, float, float]:
    """Mouth box from the largest Haar-cascade face box; NaNs when no face."""
    small, scale = downscale(frame)
    faces = _haar_cascade().detectMultiScale(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), 1.1, 4)
    if len(faces) == 0:
        return (np.nan,) * 3
    x, y, w, h = faces[np.argmax(faces[:, 2] * faces[:, 3])].astype(np.float64) / scale
    return x + HAAR_MOUTH[0] * w, y + HAAR_MOUTH[1] * h, HAAR_MOUTH[2] * w


def _warp_box(frame: np.ndarray, box, size: int) -> np.ndarray:
    """The square ``box`` of ``frame`` (edges replicated outside it) resized to (size, size, 3)."""
    cx, cy, side = box
    side_px = max(int(round(side)), 1)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    height, width = frame.shape[:2]
    pads = (max(-y0, 0), max(y0 + side_px - height, 0), max(-x0, 0), max(x0 + side_px - width, 0))
    if any(pads):
        frame = cv2.copyMakeBorder(frame, *pads, borderType=cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pads[2], y0 + pads[0]
    crop = frame[y0:y0 + side_px, x0:x0 + side_px]
    interp = cv2.INTER_AREA if side_px > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def mouth_strip(path, mode: str, count: int = 8, context_frames: int = 6) -> list[tuple[float, np.ndarray]]:
    """``count`` (time_s, 96 x 96 gray crop) samples evenly spread over a video, for a person to see
    what a lip encoder gets: each is the middle frame of a ``±context_frames`` clip cropped with
    ``mode`` (the smoothing of ``detect`` / ``avsr`` sees that context; gaps longer than it may differ)."""
    from avforge.io.media import AVReader

    samples = []
    with AVReader(path, missing_audio="silence") as reader:
        n = reader.num_frames
        for k in range(min(count, n)):
            centre = int((k + 0.5) * n / min(count, n))
            start, end = max(centre - context_frames, 0), min(centre + context_frames + 1, n)
            crops = crop_mouth(reader.read(start, end).frames, mode=mode, size=96, gray=True)
            samples.append((float(reader.grid.time_of(centre)), crops[centre - start]))
    return samples
