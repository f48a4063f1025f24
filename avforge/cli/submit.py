"""``avforge submit``: format raw proposals / video scores into a challenge submission (zip, json or txt)."""
from __future__ import annotations

import sys

from avforge.core.errors import AvforgeError
from avforge.eval.loading import load_predictions
from avforge.eval.submission import EMPTY_POLICIES, MAX_PER_VIDEO, make_submission, write_submission
from avforge.eval.submission_io import read_durations, read_file_list, read_video_scores


def add_arguments(parser) -> None:
    add = parser.add_argument
    add("--proposals", metavar="JSON", help="raw proposals {file: [[score, start_s, end_s], ...]} (Task 2)")
    add("--scores", metavar="JSON|TXT", help="video scores, {file: p_fake} or 'file;score' lines (Task 1)")
    add("--files", metavar="TXT|JSON", required=True, help="test file list (test_files.txt or a metadata JSON)")
    add("--durations", metavar="JSON", help="metadata with duration_s / duration / video_frames, or "
                                            "{file: seconds}: proposals are clipped to their video")
    add("--max-per-video", metavar="N", type=int, default=MAX_PER_VIDEO,
        help=f"proposals kept per video (default {MAX_PER_VIDEO})")
    add("--empty", choices=EMPTY_POLICIES, default="placeholder",
        help="a video left without proposals gets one lowest-score placeholder (default; the official "
             "evaluator fails on []) or an empty list")
    add("--out", metavar="ZIP|JSON|TXT", required=True, help="submission.zip, or prediction.json / prediction.txt")


def run(args) -> int:
    if args.proposals is None and args.scores is None:
        raise AvforgeError("give --proposals and/or --scores")
    proposals = load_predictions(args.proposals) if args.proposals else None
    scores = read_video_scores(args.scores) if args.scores else None
    sub = make_submission(proposals, scores, files=read_file_list(args.files),
                          durations=read_durations(args.durations) if args.durations else None,
                          max_per_video=args.max_per_video, empty=args.empty,
                          source=args.proposals or "proposals")
    report = write_submission(sub, args.out)
    for note in report.notes:
        print(f"avforge submit: note: {note}", file=sys.stderr)
    for warning in report.warnings:
        print(f"avforge submit: warning: {warning}", file=sys.stderr)
    print(f"wrote {report.summary()}")
    return 0

