"""PostprocessConfig: how raw per-clip proposals become the final scored segments."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from avforge.core.errors import AvforgeError

METHODS = ("soft_nms", "nms", "none")
CAP_PER_S = 60.0  # outside challenge export, the caps hold per started minute of video (for_duration)


@dataclass
class PostprocessConfig:
    method: str = "soft_nms"  # one of METHODS
    min_score: float = 0.0  # drop proposals scoring <= this, before and after suppression
    pre_topk: int = 2000  # keep the highest-scoring proposals before suppression (0 = all)
    max_proposals: int = 100  # keep at most this many per video after suppression (0 = all)
    # Gaussian Soft-NMS, BA-TFD / BA-TFD+ values: score *= exp(-iou^2 / alpha) for every proposal
    # whose IoU with the kept one exceeds t1 + (t2 - t1) * width (width = kept length, seconds).
    soft_nms_alpha: float = 0.7234
    soft_nms_t1: float = 0.1968
    soft_nms_t2: float = 0.4123
    nms_iou: float = 0.5  # plain NMS: remove proposals with IoU > this with a kept one

    def __post_init__(self):
        if self.method not in METHODS:
            raise AvforgeError(f"postprocess.method must be one of {METHODS}, got {self.method!r}")
        for key in ("min_score", "soft_nms_alpha", "soft_nms_t1", "soft_nms_t2", "nms_iou"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AvforgeError(f"postprocess.{key} must be a finite number, got {value!r}")
        if self.soft_nms_alpha <= 0:
            raise AvforgeError(f"postprocess.soft_nms_alpha (--sigma) must be > 0, got {self.soft_nms_alpha}")
        for key in ("min_score", "soft_nms_t1", "soft_nms_t2", "nms_iou"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise AvforgeError(f"postprocess.{key} must lie in [0, 1], got {getattr(self, key)}")
        for key in ("pre_topk", "max_proposals"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise AvforgeError(f"postprocess.{key} must be a whole number >= 0 (0 = all), got {value!r}")

    def for_duration(self, duration_s: float) -> "PostprocessConfig":
        """This config with ``pre_topk`` and ``max_proposals`` multiplied by the started minutes of a
        video (``ceil(duration_s / CAP_PER_S)``, at least 1): clips up to a minute keep the challenge
        caps, an hour keeps 60x as many. ``avforge infer`` uses it unless ``--top-k`` is given;
        challenge export (``avforge postprocess`` / ``submit``) keeps the fixed caps."""
        factor = max(1, math.ceil(duration_s / CAP_PER_S))
        return replace(self, pre_topk=self.pre_topk * factor, max_proposals=self.max_proposals * factor)
