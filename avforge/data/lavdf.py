"""LAV-DF: one ``metadata.json`` (or the smaller ``metadata.min.json``) for all splits.

Record fields used: ``file`` (relative to the root, e.g. ``test/000001.mp4``), ``split``,
``fake_periods`` [[start_s, end_s]], ``modify_audio``, ``modify_video``, ``duration``,
``original``. The large ``timestamps`` / ``transcript`` fields are not kept.
LAV-DF does not list per-modality segments: a modified modality is fake over all of
``fake_periods`` (both flags set -> both lists equal ``fake_periods``).
"""
from __future__ import annotations

from pathlib import Path

from avforge.core.errors import AvforgeError
from avforge.core.types import ModifyType, VideoRecord
from avforge.data.metadata import (
    RecordError, check_unique_files, duration_s, optional_str, parse_records, parse_segments,
    read_record_list, require_dict, require_file, speaker)

SPLITS = ("train", "dev", "test")
# The min file holds the same records without timestamps/transcripts: faster, preferred.
METADATA_NAMES = ("metadata.min.json", "metadata.json")


def find_metadata(root) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise AvforgeError("dataset root not found", path=root)
    for name in METADATA_NAMES:
        if (root / name).is_file():
            return root / name
    raise AvforgeError(f"no LAV-DF {' or '.join(METADATA_NAMES)} in this folder", path=root)


def _flag(item: dict, key: str) -> bool:
    value = item.get(key, False)
    if not isinstance(value, bool):
        raise RecordError(f"'{key}' must be true or false, got {value!r}")
    return value


def _parse(item, split: str | None) -> VideoRecord | None:
    item = require_dict(item)
    record_split = item.get("split")
    if record_split not in SPLITS:
        raise RecordError(f"'split' must be one of {list(SPLITS)}, got {record_split!r}")
    if split is not None and record_split != split:
        return None
    file = require_file(item)
    fake = parse_segments(item, "fake_periods")
    audio, visual = _flag(item, "modify_audio"), _flag(item, "modify_video")
    if fake and not (audio or visual):
        raise RecordError("'fake_periods' given but neither 'modify_audio' nor 'modify_video' is set")
    return VideoRecord(
        file=file, split=record_split, modify_type=ModifyType.from_flags(audio, visual).value,
        fake_segments=fake, audio_fake_segments=fake if audio else (),
        visual_fake_segments=fake if visual else (), duration_s=duration_s(item),
        original=optional_str(item, "original"), speaker=speaker(item))


def load_lavdf(root, split: str | None = None) -> list[VideoRecord]:
    """Records of one split (``train``/``dev``/``test``), or of all splits when ``split`` is None."""
    if split is not None and split not in SPLITS:
        raise AvforgeError(f"LAV-DF has no split {split!r} (expected one of {list(SPLITS)})", path=root)
    path = find_metadata(root)
    records = parse_records(path, read_record_list(path), lambda item: _parse(item, split))
    check_unique_files(path, records)
    return records
