"""Task 1 (video-level detection): ``file;score`` prediction files and ROC-AUC."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from avforge.core.errors import AvforgeError
from avforge.eval.flat import listing


def read_detection_scores(path) -> dict[str, float]:
    """``file;score`` lines (no header) -> {file: score}; duplicated files and bad scores are errors."""
    try:
        table = pd.read_csv(path, header=None, sep=";", names=["file", "score"], dtype={"file": str},
                            keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise AvforgeError(f"cannot read 'file;score' lines ({exc})", path=path) from None
    scores = pd.to_numeric(table["score"], errors="coerce").to_numpy(np.float64)
    files = table["file"].tolist()
    problems = []
    bad = [f for f, s in zip(files, scores) if not np.isfinite(s)]
    if bad:
        problems.append(listing("files with a missing or non-finite score", bad))
    duplicated = table["file"][table["file"].duplicated()].tolist()
    if duplicated:
        problems.append(listing("duplicated files", duplicated))
    if problems:
        raise AvforgeError("; ".join(problems), path=path)
    return dict(zip(files, scores.tolist()))


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
