"""avforge.postprocess: suppression, top-K and score thresholds on per-video Proposals."""
from avforge.postprocess.config import METHODS, PostprocessConfig
from avforge.postprocess.nms import iou_one_to_many, nms, postprocess, soft_nms, threshold, top_k

__all__ = ["METHODS", "PostprocessConfig", "iou_one_to_many", "nms", "postprocess", "soft_nms", "threshold", "top_k"]
