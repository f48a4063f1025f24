"""espeak-ng phonemes → per-frame mouth shape (openness, width), smoothed like coarticulation."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from avforge.core.timegrid import VIDEO_GRID, TimeGrid
from avforge.data.synthetic.speech import Timed

# (openness 0..1, width 0..1) per viseme class
_CLOSED, _LABIODENTAL, _ROUND, _OPEN, _MID, _SPREAD, _CONSONANT = (
    (0.0, 0.5), (0.08, 0.55), (0.4, 0.15), (1.0, 0.7), (0.6, 0.7), (0.35, 1.0), (0.25, 0.6))

# espeak-ng (Kirshenbaum-like) phoneme mnemonics by prefix; longest prefix wins
_PREFIX = {
    "p": _CLOSED, "b": _CLOSED, "m": _CLOSED,
    "f": _LABIODENTAL, "v": _LABIODENTAL,
    "w": _ROUND, "u": _ROUND, "U": _ROUND, "o": _ROUND, "O": _ROUND, "0": _ROUND, "r": (0.2, 0.35),
    "a": _OPEN, "A": _OPEN, "&": _OPEN, "V": (0.8, 0.65), "aU": (0.9, 0.45), "aI": _OPEN,
    "E": _MID, "e": _MID, "@": (0.45, 0.6), "3": (0.45, 0.55), "I": (0.45, 0.85), "i": _SPREAD,
    "s": _SPREAD, "z": _SPREAD, "S": (0.25, 0.4), "Z": (0.25, 0.4), "tS": (0.25, 0.4),
    "dZ": (0.25, 0.4), "T": (0.3, 0.8), "D": (0.3, 0.8), "j": _SPREAD,
}
_SILENCE = (0.0, 0.5)
_STRESS_BOOST = 1.15  # stressed vowels open a little wider


def viseme_of(phoneme: str) -> tuple[float, float]:
    """(openness, width) for one espeak phoneme mnemonic such as ``'aU`` or ``_:``."""
    stressed = phoneme.startswith("'")
    label = phoneme.lstrip("',")
    if not label or label.startswith("_"):
        return _SILENCE
    for n in (2, 1):
        if label[:n] in _PREFIX:
            opening, width = _PREFIX[label[:n]]
            return (min(1.0, opening * _STRESS_BOOST) if stressed else opening), width
    return _CONSONANT


def viseme_tracks(phonemes: tuple[Timed, ...] | list[Timed], n_frames: int,
                  grid: TimeGrid = VIDEO_GRID, smooth_frames: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """(T,) openness and (T,) width at every frame centre, Gaussian-smoothed over time."""
    centers = grid.centers_s(n_frames)
    shape = np.tile(np.asarray(_SILENCE, np.float32), (n_frames, 1))  # (T, 2)
    if phonemes:
        starts = np.array([p.start_s for p in phonemes])
        ends = np.array([p.end_s for p in phonemes])
        table = np.array([viseme_of(p.label) for p in phonemes], np.float32)  # (P, 2)
        idx = np.searchsorted(starts, centers, side="right") - 1
        inside = (idx >= 0) & (centers < ends[np.clip(idx, 0, None)])
        shape[inside] = table[idx[inside]]
    shape = gaussian_filter1d(shape, smooth_frames, axis=0, mode="nearest")
    return shape[:, 0], shape[:, 1]
