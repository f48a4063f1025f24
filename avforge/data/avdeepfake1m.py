"""AV-Deepfake1M and AV-Deepfake1M++: ``{split}_metadata.json`` per labelled split,
``{split}_files.txt`` (one file per line, no labels) for the test splits.

``file`` is relative to ``<root>/<split>/``, where the videos live (recorded in
``record.extra["video_dir"]``). Fields used: ``file``, ``modify_type`` (hyphen or underscore
spelling: ``both-modified`` keeps both modality flags, unlike the reference loader),
``fake_segments``, ``audio_fake_segments``, ``visual_fake_segments`` (derived from
``modify_type`` when absent), ``original``, ``video_frames`` (-> duration), ``audio_model``,
``video_model`` (++ only).
"""
from __future__ import annotations

import sys
from pathlib import Path

from avforge.core.errors import AvforgeError
from avforge.core.types import ModifyType, VideoRecord
from avforge.data.manifest import VIDEO_DIR
from avforge.data.metadata import (
    RecordError, check_unique_files, duration_s, optional_str, parse_records, parse_segments,
    path_problem, read_record_list, require_dict, require_file, speaker)

SPLITS = ("train", "val", "test", "testA", "testB")
TEST_SPLITS = ("test", "testA", "testB")
_MODEL_KEYS = ("audio_model", "video_model")


class _RecordParser:
    """Turns ``{split}_metadata.json`` items into records. Caches what repeats across a million
    records: ``modify_type`` spellings, and one ``extra`` dict per distinct (audio_model,
    video_model) that all such records share (records are frozen; treat ``extra`` as read-only)."""

    def __init__(self, split: str):
        self.split = split
        self.modify_types: dict[str, ModifyType] = {}
        self.extras: dict[tuple, dict] = {}

    def modify_type(self, item: dict) -> ModifyType:
        raw = item.get("modify_type")
        if not isinstance(raw, str):
            raise RecordError(f"missing or non-string 'modify_type' ({raw!r})")
        modify = self.modify_types.get(raw)
        if modify is None:
            modify = self.modify_types[raw] = ModifyType.parse(raw)
        return modify

    def extra(self, item: dict) -> dict:
        key = (item.get("audio_model"), item.get("video_model"))
        extra = self.extras.get(key) if all(v is None or isinstance(v, str) for v in key) else None
        if extra is None:
            models = {name: sys.intern(optional_str(item, name)) for name in _MODEL_KEYS if item.get(name)}
            extra = self.extras[key] = {VIDEO_DIR: self.split, **models}
        return extra

    def __call__(self, item) -> VideoRecord:
        item = require_dict(item)
        file = require_file(item)
        modify = self.modify_type(item)
        fake = parse_segments(item, "fake_segments")
        if modify is ModifyType.REAL and fake:
            raise RecordError("modify_type is 'real' but 'fake_segments' is not empty")
        audio = self.modality_segments(item, "audio_fake_segments", fake, modify.audio_fake)
        visual = self.modality_segments(item, "visual_fake_segments", fake, modify.visual_fake)
        # .value: VideoRecord re-parses modify_type, and ModifyType.parse rejects members on Python 3.11
        return VideoRecord(file=file, split=self.split, modify_type=modify.value, fake_segments=fake,
                           audio_fake_segments=audio, visual_fake_segments=visual,
                           duration_s=duration_s(item), original=optional_str(item, "original"),
                           speaker=speaker(item), extra=self.extra(item))

    @staticmethod
    def modality_segments(item: dict, key: str, fake: tuple, modified: bool) -> tuple:
        """The listed per-modality segments; absent -> all of ``fake`` if the modality was modified."""
        if key not in item:
            return fake if modified else ()
        if item[key] == item.get("fake_segments"):  # the usual case, already checked
            return fake
        return parse_segments(item, key)


def _read_file_list(path: Path, split: str) -> list[VideoRecord]:
    """Unlabelled records from a ``{split}_files.txt`` list."""
    extra = {VIDEO_DIR: split}  # shared by all records, read-only (see _RecordParser)
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            file = line.strip()
            if not file:
                continue
            problem = path_problem(file)
            if problem:
                raise AvforgeError(f"line {lineno}: file entry {file!r} {problem}", path=path)
            records.append(VideoRecord(file=file, split=split, modify_type=ModifyType.REAL.value,
                                       labelled=False, extra=extra))
    return records


def load_avdeepfake1m(root, split: str) -> list[VideoRecord]:
    """Records of ``train``/``val`` (labelled) or ``test``/``testA``/``testB`` (unlabelled from
    ``{split}_files.txt``, or labelled when a ``{split}_metadata.json`` is present)."""
    if split not in SPLITS:
        raise AvforgeError(f"AV-Deepfake1M has no split {split!r} (expected one of {list(SPLITS)})",
                           path=root)
    root = Path(root)
    if not root.is_dir():
        raise AvforgeError("dataset root not found", path=root)
    path = root / f"{split}_metadata.json"
    if path.is_file():
        records = parse_records(path, read_record_list(path), _RecordParser(split))
    elif split in TEST_SPLITS and (root / f"{split}_files.txt").is_file():
        path = root / f"{split}_files.txt"
        records = _read_file_list(path, split)
    else:
        also = f" nor {split}_files.txt" if split in TEST_SPLITS else ""
        raise AvforgeError(f"no {split}_metadata.json{also} in this folder", path=root)
    check_unique_files(path, records)
    return records
