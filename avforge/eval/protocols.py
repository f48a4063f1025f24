"""Named evaluation protocols and the one entry point ``evaluate`` (used by ``avforge evaluate``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.core.types import ModifyType, VideoRecord
from avforge.eval import activitynet, localization
from avforge.eval.attribution import Attribution, attribution_accuracy
from avforge.eval.detection import detection_auc, read_detection_scores
from avforge.eval.flat import Ragged, flatten
from avforge.eval.loading import labels_from_records, load_predictions, read_json_fast
from avforge.eval.per_type import TypeScores, per_type_scores
from avforge.eval.validation import validate_flat

THRESHOLDS_50_95 = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
LINSPACE_50_95 = tuple(float(t) for t in np.linspace(0.5, 0.95, 10))  # UMMAFormer's: its 0.9 is 0.8999999999999999


@dataclass(frozen=True)
class Protocol:
    """How a prediction file is scored. ``fps``: proposal times are divided by it (1 = seconds).

    ``reproduces``: the reference script (and so the published tables) whose numbers this gives.
    """

    name: str
    description: str
    reproduces: str
    fps: float
    ap_iou_thresholds: tuple[float, ...]
    ar_n_proposals: tuple[int, ...]
    ar_iou_thresholds: tuple[float, ...] = THRESHOLDS_50_95
    value_key: str = "fake_segments"
    matching: str = "official"  # "official" (ground-truth-first, IoU > t) | "activitynet" | "ummaformer"
    challenge_score: bool = False  # 0.5 * mean(AP) + 0.5 * mean(AR)
    subsets: tuple[str, ...] = ("full",)


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("avdeepfake1m", "AV-Deepfake1M / 1M-Deepfakes Challenge protocol (numbers identical to the "
             "official avdeepfake1m 0.0.4 evaluator), proposals in seconds",
             "AV-Deepfake1M paper and 1M-Deepfakes Challenge leaderboard (official avdeepfake1m evaluator)",
             fps=1.0, ap_iou_thresholds=(0.5, 0.75, 0.9, 0.95), ar_n_proposals=(50, 30, 20, 10, 5),
             challenge_score=True),
    Protocol("lavdf", "LAV-DF protocol (the official algorithm), proposals in frame indices at 25 fps; "
             "subset = without audio-only-modified videos",
             "LAV-DF / BA-TFD / BA-TFD+ papers (ControlNet/LAV-DF metrics.py as its evaluate.py calls it)",
             fps=25.0, ap_iou_thresholds=(0.5, 0.75, 0.95), ar_n_proposals=(100, 50, 20, 10),
             value_key="fake_periods", subsets=("full", "subset")),
    Protocol("activitynet", "ActivityNet-style evaluator (score-first matching, IoU >= t): a DIFFERENT "
             "protocol, NOT comparable with official AV-Deepfake1M / LAV-DF numbers",
             "AP: ActionFormer's ANETdetection (actionformer_release libs/utils/metrics.py), as in tables of "
             "ActionFormer-evaluated methods; AR@N (top N by score per video) is avforge's own, no published table",
             fps=1.0, ap_iou_thresholds=(0.5, 0.75, 0.9, 0.95), ar_n_proposals=(50, 30, 20, 10, 5),
             matching="activitynet"),
    Protocol("ummaformer", "UMMAFormer's ActivityNet evaluation (score-first matching, IoU >= t, AR@AN with a "
             "proportional proposal budget, first 100 proposals per video): NOT comparable with official numbers",
             "UMMAFormer paper (ACM MM 2023) LAV-DF/TVIL/Psynd tables: its libs/utils/Evaluation "
             "(eval_detection AP, eval_proposal AR@AN, 100 proposals per video)",
             fps=1.0, ap_iou_thresholds=LINSPACE_50_95, ar_n_proposals=(100, 50, 20, 10),
             ar_iou_thresholds=LINSPACE_50_95, value_key="fake_periods", matching="ummaformer"),
)}


@dataclass(frozen=True)
class MetricsReport:
    """Scores of one prediction set, labelled with the protocol, subset and split they belong to."""

    protocol: str
    description: str
    reproduces: str
    subset: str
    split: str | None
    ap: dict[float, float]  # nominal IoU threshold -> AP
    ar: dict[int, float]  # N -> AR@N
    score: float | None  # challenge score (avdeepfake1m only)
    auc: float | None  # Task-1 ROC-AUC when detection scores were given
    n_videos: int
    n_fake_videos: int
    n_segments: int
    n_proposals: int
    notes: tuple[str, ...] = field(default=())
    attribution: Attribution | None = None  # modality attribution when a modality sidecar was given
    per_type: tuple[TypeScores, ...] | None = None  # scores per modify type (avforge.eval.per_type)

    def to_dict(self) -> dict:
        """JSON-ready dict (threshold keys as strings, e.g. ``{"ap": {"0.5": ...}, "ar": {"50": ...}}``)."""
        return {"protocol": self.protocol, "description": self.description, "reproduces": self.reproduces,
                "subset": self.subset,
                "split": self.split, "ap": {str(k): v for k, v in self.ap.items()},
                "ar": {str(k): v for k, v in self.ar.items()}, "score": self.score, "auc": self.auc,
                "n_videos": self.n_videos, "n_fake_videos": self.n_fake_videos, "n_segments": self.n_segments,
                "n_proposals": self.n_proposals, "notes": list(self.notes),
                "attribution": None if self.attribution is None else self.attribution.to_dict(),
                "per_type": None if self.per_type is None else [t.to_dict() for t in self.per_type]}


def _records(labels, split: str | None, source: str | None = None) -> tuple[list[dict], str]:
    """Metadata records (dicts) of one split, and the name of where they came from."""
    source = str(labels) if isinstance(labels, (str, Path)) else source or "labels"
    if isinstance(labels, (str, Path)):
        labels = read_json_fast(labels)
    if not isinstance(labels, list) or not all(isinstance(r, (dict, VideoRecord)) for r in labels):
        raise AvforgeError("labels must be a metadata JSON list of records", path=source)
    records = [r.to_dict() if isinstance(r, VideoRecord) else r for r in labels]
    splits = sorted({str(r.get("split")) for r in records if "split" in r})
    if split is not None:
        records = [r for r in records if r.get("split", split) == split]
        if not records:
            raise AvforgeError(f"no labelled video of split {split!r} (found: {', '.join(splits)})", path=source)
    elif len(splits) > 1:
        raise AvforgeError(f"labels mix splits {', '.join(splits)}: choose one (split=...)", path=source)
    return records, source


def _audio_only(record: dict) -> bool:
    if "modify_type" in record:
        return ModifyType.parse(record["modify_type"]) is ModifyType.AUDIO
    return bool(record.get("modify_audio")) and not record.get("modify_video")


def _split_of(records: list[dict]) -> str | None:
    splits = {r.get("split") for r in records}
    return splits.pop() if len(splits) == 1 else None


def evaluate(predictions, labels, protocol: str = "avdeepfake1m", *, subset: str = "full",
             split: str | None = None, detection=None, modality=None, allow_extra: bool = False,
             per_type: bool = False, source: str | None = None, labels_source: str | None = None) -> MetricsReport:
    """Score ``predictions`` against ``labels`` under a named protocol.

    predictions: path of a prediction JSON, ``{file: [[score, start, end], ...]}`` or a Ragged, in
      the protocol's unit (seconds; LAV-DF: frame indices at 25 fps).
    labels: path of a metadata JSON, or a list of metadata dicts / VideoRecords; the protocol's key
      (``fake_segments``; LAV-DF ``fake_periods``) is used, the other one if it is absent.
    subset: "full", or for lavdf "subset" (audio-only-modified videos dropped from labels and ignored
      in predictions).
    split: keep only the records whose ``split`` field is this (e.g. "test" of LAV-DF's one metadata
      file); the report names it. Default: the records' common ``split``; labels that mix splits
      are an error (val and test numbers must never mix).
    detection: optional Task-1 ``file;score`` file -> report.auc.
    modality: optional modality sidecar (path or ``{file: [modality per proposal]}``, rows as in
      predictions) -> report.attribution (rule: avforge.eval.attribution).
    per_type: also score each modify type apart -> report.per_type (rules: avforge.eval.per_type).
    source: the name errors give the predictions (default: their path, or "predictions");
    labels_source: the name they give in-memory labels (e.g. the metadata path they were read from).
    Every labelled video must have a (possibly empty) proposal list; see avforge.eval.localization
    for what an empty list counts as. Predictions for unlabelled files are an error unless allow_extra.
    """
    if protocol not in PROTOCOLS:
        raise AvforgeError(f"unknown protocol {protocol!r} (choose from {', '.join(PROTOCOLS)})")
    proto = PROTOCOLS[protocol]
    if subset not in proto.subsets:
        raise AvforgeError(f"protocol {protocol!r} has no subset {subset!r} (choose from {', '.join(proto.subsets)})")
    records, label_source = _records(labels, split, labels_source)
    source = source or (str(predictions) if isinstance(predictions, (str, Path)) else "predictions")
    pred = _as_ragged(predictions)
    notes = []
    if subset == "subset":
        validate_flat(pred, [r.get("file") for r in records], source=source, allow_extra=allow_extra)
        kept = [r for r in records if not _audio_only(r)]
        notes.append(f"{len(records) - len(kept)} audio-only-modified videos left out")
        records, allow_extra = kept, True
    value_key = proto.value_key
    if records and value_key not in records[0]:
        value_key = "fake_periods" if value_key == "fake_segments" else "fake_segments"
    truth = labels_from_records(records, "file", value_key, source=label_source)
    metrics = ap_ar(pred, truth, fps=proto.fps, ap_iou_thresholds=proto.ap_iou_thresholds,
                    ar_n_proposals=proto.ar_n_proposals, ar_iou_thresholds=proto.ar_iou_thresholds,
                    matching=proto.matching, allow_extra=allow_extra, source=source, labels_source=label_source)
    ap = {round(t, 2): v for t, v in metrics["ap"].items()}  # nominal keys: linspace's 0.8999999999999999 -> 0.9
    ar = metrics["ar"]
    notes += _variant_notes(proto, pred, truth)
    score = 0.5 * float(np.mean(list(ap.values()))) + 0.5 * float(np.mean(list(ar.values()))) \
        if proto.challenge_score else None
    scores = None if detection is None else read_detection_scores(detection)
    types = None
    if per_type:
        ar_n = min(proto.ar_n_proposals)

        def ap_ap_ar(p: Ragged, t: Ragged) -> tuple[float, float, float]:
            m = ap_ar(p, t, fps=proto.fps, ap_iou_thresholds=(0.5, 0.75), ar_n_proposals=(ar_n,),
                      ar_iou_thresholds=proto.ar_iou_thresholds, matching=proto.matching, allow_extra=True,
                      source=source)
            return m["ap"][0.5], m["ap"][0.75], m["ar"][ar_n]
        types = per_type_scores(pred, truth, records, fps=proto.fps, ar_n=ar_n, score_fn=ap_ap_ar,
                                video_scores=scores)
    return MetricsReport(
        protocol=proto.name, description=proto.description, reproduces=proto.reproduces, subset=subset,
        split=split or _split_of(records),
        ap=ap, ar=ar, score=score,
        auc=None if scores is None else detection_auc(
            scores, truth.files, truth.counts > 0,
            source="detection scores" if isinstance(detection, dict) else str(detection)),
        n_videos=len(truth.files), n_fake_videos=int(np.count_nonzero(truth.counts)),
        n_segments=len(truth.rows), n_proposals=_n_proposals(pred, truth.files), notes=tuple(notes),
        attribution=None if modality is None else attribution_accuracy(
            pred, modality, records, value_key=value_key, fps=proto.fps),
        per_type=types)


def ap_ar(predictions, labels, *, fps: float = 1.0, ap_iou_thresholds: Sequence[float] = (0.5, 0.75, 0.9, 0.95),
          ar_n_proposals: Sequence[int] = (50, 30, 20, 10, 5),
          ar_iou_thresholds: Sequence[float] = THRESHOLDS_50_95, matching: str = "official",
          allow_extra: bool = False, source: str = "predictions", labels_source: str = "labels") -> dict[str, dict]:
    """In-memory AP/AR: ``{"ap": {iou: value}, "ar": {n: value}}`` keyed by the thresholds as given.

    predictions: ``{file: [[score, start, end], ...]}`` (times / fps = seconds), a Ragged or a path.
    labels: ``{file: [[start_s, end_s], ...]}`` in label order, a Ragged (G, 2) or a metadata path.
    matching: "official" (avdeepfake1m rules, see avforge.eval.localization), "activitynet" or
    "ummaformer" (see avforge.eval.activitynet). Predictions are validated first (AvforgeError listing offenders).
    """
    pred = _as_ragged(predictions)
    if isinstance(labels, (str, Path)):
        labels_source = str(labels)
        labels = labels_from_records(read_json_fast(labels), source=labels_source)
    elif not isinstance(labels, Ragged):
        labels = flatten(labels, width=2, source=labels_source)
    lowest = min(tuple(ap_iou_thresholds) + tuple(ar_iou_thresholds))
    if matching == "official":
        m = localization.prepare(pred, labels, fps, lowest, source=source, allow_extra=allow_extra,
                                 labels_source=labels_source)
        ap = localization.average_precision(m, ap_iou_thresholds)
        return {"ap": dict(zip((float(t) for t in ap_iou_thresholds), ap.values())),
                "ar": localization.average_recall(m, ar_n_proposals, ar_iou_thresholds)}
    if matching in ("activitynet", "ummaformer"):
        return activitynet.ap_ar(pred, labels, matching, ap_iou_thresholds, ar_n_proposals, ar_iou_thresholds,
                                 fps=fps, source=source, allow_extra=allow_extra, labels_source=labels_source)
    raise AvforgeError(f"unknown matching {matching!r} (official, activitynet or ummaformer)")


def _variant_notes(proto: Protocol, pred: Ragged, truth: Ragged) -> list[str]:
    """What the ActivityNet variants leave out, as their reference scripts do."""
    if proto.matching == "ummaformer":
        counts = pred.take(truth.files).counts
        beyond = int(np.maximum(counts - activitynet.UMMAFORMER_CAP, 0).sum())
        return [f"{beyond} proposals beyond the first {activitynet.UMMAFORMER_CAP} of a video left out"] if beyond else []
    if proto.matching == "activitynet":
        dropped = len(truth.rows) - len(activitynet.drop_duplicate_segments(truth).rows)
        return [f"{dropped} ground-truth segments shorter than 1 ms or duplicated left out"] if dropped else []
    return []


def _n_proposals(pred: Ragged, files: Sequence[str]) -> int:
    per_video = dict(zip(pred.files, pred.counts.tolist()))
    return sum(per_video.get(f, 0) for f in files)


def _as_ragged(predictions) -> Ragged:
    if isinstance(predictions, Ragged):
        return predictions
    if isinstance(predictions, (str, Path)):
        return load_predictions(predictions)
    if isinstance(predictions, Mapping):
        return flatten(predictions, source="predictions")
    raise AvforgeError(f"predictions must be a path, a mapping or a Ragged, not {type(predictions).__name__}")
