"""Modality attribution accuracy: does the proposal that finds a fake segment name its modality?

Rule (avforge's own; no official evaluator scores attribution): for every ground-truth fake segment,
the *matched* proposal is the highest-scoring proposal of the same video with IoU > 0.5 against it.
It is correct when its modality ("audio" / "visual" / "both", from the ``.modality.json`` sidecar
that ``avforge postprocess`` writes next to the proposals) equals the segment's true modality.
``accuracy = correct / matched``; ``matched_fraction = matched / segments`` says how many segments
the accuracy speaks for (an unmatched segment is a localization miss, not an attribution error).

True modality of a segment: which per-modality segment lists (``audio_fake_segments``,
``visual_fake_segments``) overlap it — both -> "both"; if neither list overlaps (datasets with only
per-video flags, e.g. LAV-DF's ``modify_audio`` / ``modify_video``), the record's modify type decides.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.core.types import MODALITIES, ModifyType, segment_modality
from avforge.eval.flat import Ragged
from avforge.eval.loading import read_json_fast

MATCH_IOU = 0.5  # a proposal matches a segment when IoU > this


@dataclass(frozen=True)
class Attribution:
    """Attribution scores; ``confusion[true][predicted]`` counts matched segments."""

    accuracy: float | None  # correct / matched; None when no segment was matched
    matched_fraction: float | None  # matched / segments; None when there is no fake segment
    n_segments: int
    n_matched: int
    n_correct: int
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "matched_fraction": self.matched_fraction,
                "n_segments": self.n_segments, "n_matched": self.n_matched, "n_correct": self.n_correct,
                "confusion": {t: dict(p) for t, p in self.confusion.items()}}


def record_modify_type(record: Mapping) -> ModifyType | None:
    if record.get("modify_type"):
        return ModifyType.parse(str(record["modify_type"]))
    if "modify_audio" in record or "modify_video" in record:
        return ModifyType.from_flags(bool(record.get("modify_audio")), bool(record.get("modify_video")))
    return None


def segment_modalities(record: Mapping, value_key: str = "fake_segments") -> list[str]:
    """True modality of each segment of ``record[value_key]`` (rule: ``core.types.segment_modality``)."""
    kind = record_modify_type(record)
    return [segment_modality(seg, record.get("audio_fake_segments"), record.get("visual_fake_segments"), kind)
            for seg in record.get(value_key) or ()]


def read_modality(path) -> dict[str, list[str]]:
    """A ``{file: [modality, ...]}`` sidecar; anything else is a one-line AvforgeError."""
    data = read_json_fast(path)
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise AvforgeError("expected a modality sidecar {file: [modality, ...]}", path=path)
    return data


def _iou(rows: np.ndarray, seg: Sequence[float]) -> np.ndarray:
    """(M,) IoU of proposal rows [score, start, end] with one segment [start, end]."""
    inter = np.clip(np.minimum(rows[:, 2], seg[1]) - np.maximum(rows[:, 1], seg[0]), 0.0, None)
    union = (rows[:, 2] - rows[:, 1]) + (seg[1] - seg[0]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def attribution_accuracy(predictions: Ragged, modality, records: Sequence[Mapping], *,
                         value_key: str = "fake_segments", fps: float = 1.0,
                         source: str = "modality") -> Attribution:
    """Score the modality of matched proposals (rule in the module docstring).

    predictions: Ragged (M, 3) ``[score, start, end]`` with times / fps = seconds (rows in file order).
    modality: ``{file: [modality per proposal row]}`` or the path of such a sidecar.
    records: labelled metadata dicts (``file``, ``value_key`` segments in seconds, per-modality lists
    and/or modify type). A fake video without predictions counts its segments as unmatched.
    """
    if isinstance(modality, (str, Path)):
        source, modality = str(modality), read_modality(modality)
    index = {f: i for i, f in enumerate(predictions.files)}
    confusion = {t: {p: 0 for p in MODALITIES} for t in MODALITIES}
    n_segments = n_matched = n_correct = 0
    for record in records:
        truths = segment_modalities(record, value_key)
        if not truths:
            continue
        n_segments += len(truths)
        i = index.get(record["file"])
        if i is None:
            continue
        rows = predictions.rows[predictions.offsets[i]:predictions.offsets[i + 1]].astype(np.float64)
        rows[:, 1:] /= fps
        names = modality.get(record["file"])
        if names is None or len(names) != len(rows):
            raise AvforgeError(f"{record['file']!r} has {len(rows)} proposals but "
                               f"{'no' if names is None else len(names)} modality entries", path=source)
        for seg, truth in zip(record[value_key], truths):
            hits = np.flatnonzero(_iou(rows, seg) > MATCH_IOU)
            if not len(hits):
                continue
            predicted = names[hits[np.argmax(rows[hits, 0])]]
            if predicted not in MODALITIES:
                raise AvforgeError(f"unknown modality {predicted!r} for {record['file']!r} "
                                   f"(expected one of {', '.join(MODALITIES)})", path=source)
            n_matched += 1
            n_correct += predicted == truth
            confusion[truth][predicted] += 1
    return Attribution(accuracy=n_correct / n_matched if n_matched else None,
                       matched_fraction=n_matched / n_segments if n_segments else None,
                       n_segments=n_segments, n_matched=n_matched, n_correct=int(n_correct), confusion=confusion)
