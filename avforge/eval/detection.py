"""Task 1 (video-level detection): ``file;score`` prediction files and ROC-AUC."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from avforge.core.errors import AvforgeError
from avforge.core.fileio import read_json
from avforge.eval.flat import listing


def read_detection_scores(path) -> dict[str, float]:
    """Task-1 scores -> {file: score}: a mapping as is, a ``{file: score}`` JSON file (what
    ``avforge postprocess`` writes as video_scores.json) or ``file;score`` lines (no header).
    Duplicated files and bad scores are errors."""
    if isinstance(path, Mapping):
        return dict(path)
    if str(path).endswith(".json"):
        scores = read_json(path)
        if not isinstance(scores, dict):
            raise AvforgeError("expected a {file: score} JSON object", path=path)
        bad = [f for f, v in scores.items() if not isinstance(v, (int, float)) or not np.isfinite(v)]
        if bad:
            raise AvforgeError(listing("files with a missing or non-finite score", bad), path=path)
        return {f: float(v) for f, v in scores.items()}
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
