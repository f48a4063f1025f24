"""``avforge evaluate``: score proposals against labelled metadata; a table on stdout, JSON on disk.

    avforge evaluate --pred prediction.json --meta val_metadata.json --detection prediction.txt \
        --modality prediction.modality.json --out metrics.json
    avforge evaluate --pred proposals.json --meta LAV-DF/metadata.json --protocol lavdf --split test \
        --subset subset --frames

Proposal times are seconds (avforge's unit everywhere); ``--frames`` reads them as frame indices at
25 fps, as the original LAV-DF code writes them. Times that do not look like the unit claimed
(avforge.eval.units) are refused with a one-line error naming the flag, and a report whose every
AP and AR is 0 says to check it. Every number is printed and saved with its protocol, split and
subset, and the reference script it reproduces.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from avforge.core.errors import AvforgeError
from avforge.core.fileio import write_json
from avforge.core.timegrid import VIDEO_GRID, TimeGrid
from avforge.eval.flat import Ragged
from avforge.eval.loading import load_predictions, read_json_fast
from avforge.eval.protocols import PROTOCOLS, evaluate
from avforge.eval.report import format_table, report_dict
from avforge.eval.submission_io import durations_of_records, read_submission
from avforge.eval.units import unit_problem


def add_arguments(parser) -> None:
    add = parser.add_argument
    add("--pred", metavar="JSON|ZIP", required=True,
        help="prediction.json {file: [[score, start, end], ...]} or a submission .zip holding one")
    add("--meta", metavar="JSON", required=True, help="labelled metadata JSON (list of records)")
    add("--protocol", choices=sorted(PROTOCOLS), default="avdeepfake1m",
        help="avdeepfake1m and lavdf are the official evaluators; activitynet (ActionFormer's AP) and "
             "ummaformer (UMMAFormer's AP and AR@AN) are different, non-comparable protocols (default avdeepfake1m)")
    add("--subset", choices=("full", "subset"), default="full",
        help="lavdf only: subset = without audio-only-modified videos (default full)")
    add("--split", metavar="NAME", help="score only the records of this split (needed when the metadata "
                                        "holds several, as LAV-DF's metadata.json does)")
    add("--frames", action="store_true", help="proposal times are frame indices at 25 fps (LAV-DF code's "
        "output); without it they are seconds")
    add("--detection", metavar="TXT|JSON",
        help="Task 1 scores, prediction.txt (file;score) or video_scores.json ({file: score}): adds ROC-AUC")
    add("--modality", metavar="JSON",
        help="modality sidecar {file: [modality per proposal]} (avforge postprocess writes "
             "<pred stem>.modality.json): adds modality attribution accuracy")
    add("--allow-extra", action="store_true", help="ignore predictions for unlabelled files")
    add("--out", metavar="JSON", help="metrics JSON to write")


def run(args) -> int:
    protocol = PROTOCOLS[args.protocol]
    records, split = _records_of_split(args.meta, args.split)
    predictions, source = _read_predictions(args.pred)
    problem = unit_problem(predictions, durations_of_records(records, source=args.meta), args.frames)
    if problem:
        raise AvforgeError(problem, path=source)
    report = evaluate(_in_protocol_unit(predictions, protocol.fps, args.frames), records, args.protocol,
                      subset=args.subset, split=split, detection=args.detection, modality=args.modality,
                      allow_extra=args.allow_extra, per_type=True, source=source, labels_source=args.meta)
    notes = report.notes
    if args.frames == (protocol.fps == 1):  # converted to the protocol's unit: say so next to the numbers
        notes += (f"proposal times read as {'frame indices at 25 fps' if args.frames else 'seconds'} and converted",)
    values = list(report.ap.values()) + list(report.ar.values())
    if report.n_segments and not any(values):
        notes += (f"every AP and AR is 0: are the proposal times {'seconds' if args.frames else 'frame indices'}? "
                  f"({'drop' if args.frames else 'pass'} --frames)",)
    report = replace(report, notes=notes)
    print(format_table(report))
    if args.out:
        inputs = {"predictions": args.pred, "metadata": args.meta, "detection": args.detection,
                  "modality": args.modality,
                  "time_unit": "frames@25fps" if args.frames else "seconds"}
        write_json(args.out, report_dict(report, {k: v for k, v in inputs.items() if v}), indent=2)
        print(f"wrote {args.out}")
    return 0


def _records_of_split(meta: str, split: str | None) -> tuple[list[dict], str | None]:
    """The metadata records to score and the split they belong to.

    The split is ``--split`` (records filtered to it), else the records' common ``split`` field, else
    the file name (``val_metadata.json`` -> val). Several splits without ``--split`` is an error.
    """
    records = read_json_fast(meta)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise AvforgeError("expected a JSON list of metadata records", path=meta)
    splits = sorted({str(r["split"]) for r in records if r.get("split") is not None})
    if split is not None:
        records = [r for r in records if r.get("split") == split]
        if not records:
            raise AvforgeError(f"no record of split {split!r} (splits here: {', '.join(splits) or 'none'})",
                               path=meta)
        return records, split
    if len(splits) > 1:
        raise AvforgeError(f"records of several splits ({', '.join(splits)}): choose one with --split", path=meta)
    if splits:
        return records, splits[0]
    named = re.fullmatch(r"(\w+?)_metadata\.json", Path(meta).name)
    return records, named.group(1) if named else None


def _read_predictions(path: str) -> tuple[Ragged, str]:
    """Proposals of a prediction JSON, or of the prediction.json inside a submission zip, and their source name."""
    if Path(path).suffix.lower() != ".zip":
        return load_predictions(path), path
    sub = read_submission(path)
    if sub.localization is None:
        raise AvforgeError("the zip holds no prediction.json", path=path)
    source = f"{path}:prediction.json"
    return sub.localization, source


def _in_protocol_unit(predictions: Ragged, protocol_fps: float, frames: bool) -> Ragged:
    """Proposals converted (by the TimeGrid) to the protocol's unit: seconds, or frames at its fps."""
    if frames == (protocol_fps != 1):  # frames for a frame protocol, seconds for a seconds one
        return predictions
    rows = predictions.rows.copy()  # (M, 3) score, start, end
    seconds = VIDEO_GRID.to_seconds(rows[:, 1:]) if frames else rows[:, 1:]
    rows[:, 1:] = TimeGrid(protocol_fps).to_frames(seconds) if protocol_fps != 1 else seconds
    return Ragged(files=predictions.files, offsets=predictions.offsets, rows=rows)
