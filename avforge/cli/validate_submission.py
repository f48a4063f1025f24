"""``avforge validate-submission``: check a challenge submission (zip, json or txt) made anywhere."""
from __future__ import annotations

import sys

from avforge.eval.submission_io import read_file_list, validate_submission


def add_arguments(parser) -> None:
    parser.add_argument("submission", metavar="ZIP|JSON|TXT", help="submission .zip, prediction.json or .txt")
    parser.add_argument("--files", metavar="TXT|JSON", help="test file list (test_files.txt or a metadata "
                                                            "JSON): every listed file present, no other")


def run(args) -> int:
    report = validate_submission(args.submission, read_file_list(args.files) if args.files else None)
    for warning in report.warnings:
        print(f"avforge validate-submission: warning: {warning}", file=sys.stderr)
    print(f"OK {report.summary()}")
    return 0
