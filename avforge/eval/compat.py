"""Drop-in replacements for ``avdeepfake1m.evaluation`` (same signatures, same numbers, same dict keys).

Differences, all on input the official tool cannot score: a labelled file missing from the
predictions, a NaN/inf value, a malformed row or a prediction for a file that is not labelled raise
one AvforgeError listing the offenders (the official panics or ignores extra files; pass
``allow_extra=True`` to ignore them too). Rows with start >= end or a negative start (raw model
outputs have them) are scored like the official does, with a UserWarning; ``avforge evaluate`` and
``validate-submission`` refuse them. Empty proposal lists are
accepted: their videos' segments count as missed (see avforge.eval.localization).
Threshold keys are the float32 values as Python floats, like the official (0.9 -> 0.8999999761581421).
"""
from __future__ import annotations

from typing import Dict, List, Union

from avforge.eval import localization
from avforge.eval.detection import detection_auc, read_detection_scores
from avforge.eval.loading import load_labels, load_predictions


def _load(proposals_path, labels_path, file_key, value_key, fps, thresholds, allow_extra) -> localization.Matches:
    predictions = load_predictions(proposals_path)
    labels = load_labels(labels_path, file_key, value_key)
    return localization.prepare(predictions, labels, fps, min(thresholds), source=str(proposals_path),
                                allow_extra=allow_extra, labels_source=str(labels_path), geometry="warn")


def ap_1d(proposals_path: str, labels_path: str, file_key: str, value_key: str, fps: float,
          iou_thresholds: List[float], *, allow_extra: bool = False) -> Dict[float, float]:
    """AP at each IoU threshold, as ``avdeepfake1m.evaluation.ap_1d``."""
    m = _load(proposals_path, labels_path, file_key, value_key, fps, iou_thresholds, allow_extra)
    return localization.average_precision(m, iou_thresholds)


def ar_1d(proposals_path: str, labels_path: str, file_key: str, value_key: str, fps: float,
          n_proposals: List[int], iou_thresholds: List[float], *, allow_extra: bool = False) -> Dict[int, float]:
    """AR@N for each N (mean over ``iou_thresholds``), as ``avdeepfake1m.evaluation.ar_1d``."""
    m = _load(proposals_path, labels_path, file_key, value_key, fps, iou_thresholds, allow_extra)
    return localization.average_recall(m, n_proposals, iou_thresholds)


def ap_ar_1d(proposals_path: str, labels_path: str, file_key: str, value_key: str, fps: float,
             ap_iou_thresholds: List[float], ar_n_proposals: List[int], ar_iou_thresholds: List[float], *,
             allow_extra: bool = False) -> Dict[str, Dict[Union[float, int], float]]:
    """``{"ap": {iou: value}, "ar": {n: value}}``, as ``avdeepfake1m.evaluation.ap_ar_1d``."""
    m = _load(proposals_path, labels_path, file_key, value_key, fps,
              list(ap_iou_thresholds) + list(ar_iou_thresholds), allow_extra)
    return {"ap": localization.average_precision(m, ap_iou_thresholds),
            "ar": localization.average_recall(m, ar_n_proposals, ar_iou_thresholds)}


def auc(prediction_file: str, reference_path: str, file_key: str, value_key: str) -> float:
    """Task-1 ROC-AUC, as ``avdeepfake1m.evaluation.auc``: label 1 when ``value_key`` is non-empty.

    Every labelled file needs a score (a missing one is an error); extra scored files are ignored.
    """
    labels = load_labels(reference_path, file_key, value_key)
    return detection_auc(read_detection_scores(prediction_file, probabilities=False), labels.files, labels.counts > 0,
                         source=str(prediction_file))
