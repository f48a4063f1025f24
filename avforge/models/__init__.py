"""avforge.models: the cross-modal discrepancy fusion detector, its heads, targets and losses."""
from avforge.models.config import BOUNDARY_HEADS, FUSIONS, DetectorConfig
from avforge.models.detector import Detector, build_detector
from avforge.models.outputs import DetectorOutput

__all__ = ["BOUNDARY_HEADS", "FUSIONS", "Detector", "DetectorConfig", "DetectorOutput", "build_detector"]
