"""Task 1 (video-level detection): ``file;score`` prediction files and ROC-AUC."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.eval.flat import listing
from avforge.eval.reader import check_scores, read_scores


def read_detection_scores(path, probabilities: bool = True) -> dict[str, float]:
    """Task-1 scores -> {file: score}: a mapping, a ``{file: score}`` JSON file (what ``avforge postprocess``
    writes as video_scores.json) or ``file;score`` lines, all by the reader's rules (avforge.eval.reader):
    numbers, finite, in [0, 1] unless ``probabilities`` is False (logits: the AUC is the same)."""
    if isinstance(path, Mapping):
        return check_scores(path, "video scores", probabilities)
    return read_scores(path, probabilities)


def detection_auc(scores: Mapping[str, float], files: Sequence[str], fake: Sequence[bool], *,
                  source: str = "detection") -> float:
    """ROC-AUC of ``scores`` (probability of fake) for ``files`` labelled ``fake`` (scikit-learn).

    Every file needs a score; extra scored files are ignored.
    """
    from sklearn.metrics import roc_auc_score  # heavy import, only when asked for

    missing = [f for f in files if f not in scores]
    if missing:
        raise AvforgeError(listing("missing files (labelled but not scored)", missing), path=source)
    fake = np.asarray(fake, dtype=bool)
    if fake.all() or not fake.any():
        raise AvforgeError("AUC needs both real and fake videos in the labels", path=source)
    return float(roc_auc_score(fake.astype(int), [scores[f] for f in files]))
