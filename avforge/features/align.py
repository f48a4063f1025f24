"""Bring features of another frame rate onto the 25 fps video grid, exactly T frames."""
from __future__ import annotations

import numpy as np
import torch

from avforge.core.timegrid import TimeGrid


def frame_centers_s(n_src: int, hop_samples: int, win_samples: int, sample_rate: int) -> np.ndarray:
    """(N,) centre time of each analysis window (frame j covers samples [hop*j, hop*j + win))."""
    return (np.arange(n_src, dtype=np.float64) * hop_samples + win_samples / 2) / sample_rate


def pool_to_grid(feats: torch.Tensor, centers_s: np.ndarray, n_frames: int, grid: TimeGrid) -> torch.Tensor:
    """Average the source frames whose centre falls inside each grid frame.

    feats (N, C) at any rate, ``centers_s`` (N,) their centre times; returns (n_frames, C).
    A grid frame that holds no source centre (past the end of short audio, or a grid finer than
    the source) copies the source frame whose centre is nearest to its own centre.
    """
    n_src = feats.shape[0]
    out = torch.zeros(n_frames, feats.shape[1], dtype=feats.dtype, device=feats.device)
    if n_frames == 0 or n_src == 0:
        return out
    owner_idx = np.floor(grid.to_frames(centers_s) + 1e-9).astype(np.int64)  # (N,) grid frame per source frame
    inside = (owner_idx >= 0) & (owner_idx < n_frames)
    counts = np.bincount(owner_idx[inside], minlength=n_frames)
    index = torch.as_tensor(owner_idx[inside], device=feats.device)
    out.index_add_(0, index, feats[torch.as_tensor(np.flatnonzero(inside), device=feats.device)])
    out /= torch.as_tensor(np.maximum(counts, 1), dtype=feats.dtype, device=feats.device)[:, None]
    empty_idx = np.flatnonzero(counts == 0)
    if len(empty_idx):
        nearest = np.abs(grid.centers_s(n_frames)[empty_idx, None] - centers_s[None, :]).argmin(axis=1)
        out[torch.as_tensor(empty_idx, device=feats.device)] = feats[torch.as_tensor(nearest, device=feats.device)]
    return out


def fit_length(wave: np.ndarray, n_samples: int) -> np.ndarray:
    """Zero-pad or trim a (S,) wave to exactly ``n_samples`` (audio follows the video clock)."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if len(wave) >= n_samples:
        return wave[:n_samples]
    return np.pad(wave, (0, n_samples - len(wave)))
