"""Five face points per frame with yuface (libfacedetection, model compiled in, no downloads)."""
from __future__ import annotations

import cv2
import numpy as np

try:
    import yuface
except ImportError:  # optional for "fixed" crops; "detect" falls back to OpenCV's Haar cascade
    yuface = None

DETECT_MAX_SIDE = 640  # detect on a downscaled copy of larger frames (yuface degrades past 960)


def downscale(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """``frame`` shrunk so that its longer side is at most DETECT_MAX_SIDE, and the scale used."""
    scale = min(1.0, DETECT_MAX_SIDE / max(frame.shape[:2]))
    if scale == 1.0:
        return frame, 1.0
    return cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def face_points(frame: np.ndarray) -> np.ndarray | None:
    """(5, 2) x, y pixels of the largest face in an RGB frame: the subject's right eye (smaller x
    in the image), left eye, nose tip, then the mouth corners (smaller x first); None if no face."""
    small, scale = downscale(frame)
    _, faces, points = yuface.detect(np.ascontiguousarray(small[..., ::-1]))  # yuface wants BGR
    if len(faces) == 0:
        return None
    p = points[np.argmax(faces[:, 2].astype(np.int64) * faces[:, 3])].astype(np.float64).reshape(5, 2) / scale
    eyes, mouth = p[[0, 1]], p[[3, 4]]
    return np.concatenate([eyes[np.argsort(eyes[:, 0])], p[[2]], mouth[np.argsort(mouth[:, 0])]])
