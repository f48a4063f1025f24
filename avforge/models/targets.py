"""Training targets built from ``Batch.segments`` (seconds); the grid converts to frames."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from avforge.core.timegrid import VIDEO_GRID, TimeGrid


def segments_to_frames(segments_s: torch.Tensor, grid: TimeGrid = VIDEO_GRID) -> torch.Tensor:
    """(N, 2) seconds -> (N, 2) fractional frame positions (float32, same device)."""
    frames = grid.to_frames(segments_s.detach().cpu().double().numpy())
    return torch.as_tensor(frames, dtype=torch.float32, device=segments_s.device).reshape(-1, 2)


def make_points(lengths: list[int], strides: tuple[int, ...], device=None) -> tuple[torch.Tensor, ...]:
    """Anchor-free locations of every level, flat: (centre frame, stride, level), each (L,).

    Location i of a level with stride s covers frames [i*s, (i+1)*s); its centre is (i + 0.5)*s.
    """
    centres, strides_out, levels = [], [], []
    for lvl, (n, s) in enumerate(zip(lengths, strides)):
        centres.append((torch.arange(n, device=device, dtype=torch.float32) + 0.5) * s)
        strides_out.append(torch.full((n,), float(s), device=device))
        levels.append(torch.full((n,), lvl, device=device, dtype=torch.long))
    return torch.cat(centres), torch.cat(strides_out), torch.cat(levels)


@dataclass
class AnchorFreeTargets:
    """Per-location targets of one clip."""

    positive: torch.Tensor  # (L,) bool
    distances_frames: torch.Tensor  # (L, 2) distances to start and end (valid where positive)
    modality: torch.Tensor  # (L,) long class id into MODALITIES (valid where positive)
    segment: torch.Tensor  # (L,) long index of the assigned segment (valid where positive)


def anchor_free_targets(points_frames: torch.Tensor, point_strides: torch.Tensor, point_levels: torch.Tensor,
                        segments_frames: torch.Tensor, segment_modality: torch.Tensor,
                        regress_ranges_frames: tuple[tuple[float, float], ...],
                        center_radius: float) -> AnchorFreeTargets:
    """ActionFormer assignment: a location is positive for a segment when it lies inside the
    segment, within ``center_radius * stride`` of the segment centre, and the larger of its two
    distances falls in its level's regression range. Ties go to the shortest segment.
    """
    n_points = points_frames.shape[0]
    if segments_frames.numel() == 0:
        zeros = torch.zeros(n_points, dtype=torch.long, device=points_frames.device)
        return AnchorFreeTargets(zeros.bool(), torch.zeros(n_points, 2, device=points_frames.device), zeros, zeros)
    p = points_frames[:, None]  # (L, 1)
    start, end = segments_frames[None, :, 0], segments_frames[None, :, 1]  # (1, N)
    left, right = p - start, end - p  # (L, N)
    centre = 0.5 * (start + end)
    radius = center_radius * point_strides[:, None]
    near_centre = (p > torch.maximum(centre - radius, start)) & (p < torch.minimum(centre + radius, end))
    ranges = torch.as_tensor(regress_ranges_frames, dtype=torch.float32, device=p.device)[point_levels]  # (L, 2)
    largest = torch.maximum(left, right)
    in_range = (largest >= ranges[:, :1]) & (largest <= ranges[:, 1:])
    ok = near_centre & in_range & (left > 0) & (right > 0)
    length = (end - start).expand_as(left).masked_fill(~ok, float("inf"))
    best_len, best = length.min(dim=1)  # (L,)
    positive = torch.isfinite(best_len)
    dist = torch.stack([left.gather(1, best[:, None]).squeeze(1), right.gather(1, best[:, None]).squeeze(1)], -1)
    return AnchorFreeTargets(positive, dist * positive[:, None], segment_modality[best] * positive, best * positive)


def bm_iou_targets(segments_frames: torch.Tensor, n_frames: int, max_duration_frames: int) -> torch.Tensor:
    """(D, T): best IoU of proposal frames [t, t + d + 1) with any segment (0 without segments)."""
    device = segments_frames.device
    t = torch.arange(n_frames, device=device, dtype=torch.float32)[None, :, None]
    d = torch.arange(1, max_duration_frames + 1, device=device, dtype=torch.float32)[:, None, None]
    if segments_frames.numel() == 0:
        return torch.zeros(max_duration_frames, n_frames, device=device)
    start, end = segments_frames[:, 0], segments_frames[:, 1]  # (N,)
    inter = (torch.minimum(t + d, end) - torch.maximum(t, start)).clamp(min=0)
    union = torch.maximum(t + d, end) - torch.minimum(t, start)
    return (inter / union.clamp(min=1e-6)).amax(dim=-1)
