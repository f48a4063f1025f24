"""Metrics reports as a readable table and as a JSON-ready dict (pure formatting, no scoring).

Every rendering names the protocol, the split and the subset, so no number travels without them.
"""
from __future__ import annotations

from typing import Mapping

from avforge.eval.per_type import FALSE_ALARM_SCORE, FOUND_IOU, FOUND_TOP
from avforge.eval.protocols import MetricsReport


def threshold_name(iou: float) -> str:
    """``0.5`` -> ``"0.50"`` (float32 keys such as 0.8999999761581421 print as ``"0.90"``)."""
    return f"{float(iou):.2f}"


def headline(report: MetricsReport) -> str:
    """``avdeepfake1m protocol, split val, subset full`` — the label every number carries."""
    return f"{report.protocol} protocol, split {report.split or 'unknown'}, subset {report.subset}"


def metric_values(report: MetricsReport) -> dict[str, float]:
    """Flat ``{"AP@0.50": ..., "AR@50": ..., "score": ..., "AUC": ..., "attribution": ...}`` in display order.

    ``attribution`` (modality accuracy of matched segments) and ``attribution_matched`` (the fraction
    of fake segments matched) appear when the report has them.
    """
    values = {f"AP@{threshold_name(t)}": v for t, v in report.ap.items()}
    values.update({f"AR@{n}": v for n, v in report.ar.items()})
    if report.score is not None:
        values["score"] = report.score
    if report.auc is not None:
        values["AUC"] = report.auc
    attribution = report.attribution
    if attribution is not None and attribution.accuracy is not None:
        values["attribution"] = attribution.accuracy
    if attribution is not None and attribution.matched_fraction is not None:
        values["attribution_matched"] = attribution.matched_fraction
    return values


def format_table(report: MetricsReport, digits: int = 4) -> str:
    """A few lines for a terminal: headline, protocol description, counts, one metric per row."""
    values = metric_values(report)
    width = max(map(len, values), default=6)
    lines = [headline(report), f"  {report.description}", f"  reproduces: {report.reproduces}",
             f"  {report.n_videos} videos ({report.n_fake_videos} fake, {report.n_segments} segments), "
             f"{report.n_proposals} proposals", ""]
    lines += [f"  {name:<{width}}  {value:.{digits}f}" for name, value in values.items()]
    if report.score is not None:
        lines.append("  (score = 0.5 * mean AP + 0.5 * mean AR, the challenge's Task 2 score)")
    if report.attribution is not None:
        a = report.attribution
        lines.append(f"  (attribution = correct modality among the {a.n_matched} of {a.n_segments} fake segments "
                     "matched by a proposal with IoU > 0.5, the highest-scoring one)")
    if report.per_type:
        lines += ["", per_type_table(report.per_type)]
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines)


def per_type_table(rows) -> str:
    """Per modify type: videos, segments, AP@0.5, AP@0.75, AR@N, found, AUC (fake types) / false alarms (real)."""
    def cell(v):
        return "–" if v is None else f"{v:.3f}"
    ar_n = next((r.ar_n for r in rows if r.ar_n), None)
    head = ["type", "videos", "segments", "AP@0.50", "AP@0.75", f"AR@{ar_n}", f"found@{FOUND_TOP}", "AUC",
            "false alarms"]
    body = [[r.modify_type, str(r.n_videos), str(r.n_segments), cell(r.ap50), cell(r.ap75), cell(r.ar), cell(r.found),
             cell(r.auc), cell(r.false_alarms)] for r in rows]
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    lines = ["  per modify type (each fake type scored together with all real videos):"]
    lines += ["  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
              for row in [head] + body]
    lines.append(f"  (found@{FOUND_TOP} = segments overlapped with IoU > {FOUND_IOU} by one of the video's "
                 f"{FOUND_TOP} best proposals; false alarms = real videos with a proposal scoring "
                 f">= {FALSE_ALARM_SCORE})")
    return "\n".join(lines)


def report_dict(report: MetricsReport, inputs: Mapping[str, str] | None = None) -> dict:
    """``report.to_dict()`` plus a flat ``metrics`` table and the ``inputs`` it was computed from."""
    d = report.to_dict()
    d["metrics"] = metric_values(report)
    if inputs:
        d["inputs"] = dict(inputs)
    return d
