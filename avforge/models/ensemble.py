"""Several trained detectors as one: their outputs averaged before decoding (a checkpoint ensemble).

Every member reads the same batch; every per-frame and per-location output is averaged (logits as
logits, regressed distances and boundaries in frames, the sync curve), so the ensemble decodes,
stitches and post-processes exactly like one detector. Members must share the layout of their
outputs: the same pyramid strides and heads (typically one config trained with other seeds); an
output only some members make (a training-only head) is dropped.
"""
from __future__ import annotations

from dataclasses import fields, replace

import torch
from torch import nn

from avforge.core.batch import Batch
from avforge.core.errors import AvforgeError
from avforge.core.types import Proposals
from avforge.models.detector import Detector
from avforge.models.outputs import DetectorOutput

# Outputs that say where things are, identical in every member; the rest is averaged.
LAYOUT_FIELDS = ("mask", "point_frames", "point_strides", "point_levels", "point_mask")
# Config fields that decide which outputs exist and on which grid.
LAYOUT_CONFIG = ("pyramid_strides", "boundary_head", "refine_boundaries", "sync", "sync_max_offset_frames",
                 "uses_visual", "uses_audio", "bm_max_duration_frames")


class DetectorEnsemble(nn.Module):
    """Mean outputs of ``members`` (Detectors of one output layout); decodes with the first one's settings."""

    def __init__(self, members: list[Detector]):
        super().__init__()
        if not members:
            raise AvforgeError("an ensemble needs at least one detector")
        first = members[0]
        for i, other in enumerate(members[1:], start=2):
            if (other.visual_dim, other.audio_dim) != (first.visual_dim, first.audio_dim):
                raise AvforgeError(f"ensemble member {i} reads features of {other.visual_dim} / {other.audio_dim} "
                                   f"channels, member 1 {first.visual_dim} / {first.audio_dim}")
            for key in LAYOUT_CONFIG:
                if getattr(other.cfg, key) != getattr(first.cfg, key):
                    raise AvforgeError(f"ensemble member {i} has {key} = {getattr(other.cfg, key)!r}, member 1 "
                                       f"{getattr(first.cfg, key)!r}: members must share their outputs' layout")
        self.members = nn.ModuleList(members)
        self.cfg, self.visual_dim, self.audio_dim = first.cfg, first.visual_dim, first.audio_dim

    def forward(self, batch: Batch) -> DetectorOutput:
        outs = [member(batch) for member in self.members]
        if len(outs) == 1:
            return outs[0]
        mean = {}
        for f in fields(DetectorOutput):
            if f.name in LAYOUT_FIELDS:
                continue
            values = [getattr(o, f.name) for o in outs]
            present = [v for v in values if v is not None]  # an extra of some members only is dropped
            mean[f.name] = torch.stack([v.float() for v in present]).mean(0) if len(present) == len(values) else None
        return replace(outs[0], **mean)

    @torch.no_grad()
    def decode(self, out: DetectorOutput, batch: Batch, topk: int | None = None,
               min_score: float | None = None) -> list[Proposals]:
        return self.members[0].decode(out, batch, topk, min_score)
