"""File names and metadata of the synthetic benchmark in the real datasets' layouts.

LAV-DF: ``metadata.json`` (one list, ``file`` = ``{train,dev,test}/000001.mp4``), per-modality
info as LAV-DF has it (``modify_audio``/``modify_video`` over all ``fake_periods``).
AV-Deepfake1M: ``{train,val}_metadata.json`` with ``file`` relative to ``<split>/``
(``id00001/syn000001/00000/real.mp4``, ``fake_video_real_audio.mp4``, ...), per-video JSONs
under ``{split}_metadata/`` (adding ``transcripts`` and ``operations``), ``test_files.txt``;
the test labels go to ``hidden_labels/`` (``test_metadata.json`` + per-video JSONs) so the
test split looks unlabelled, as in the real dataset, yet can be scored.
Both layouts add a ``speaker`` key (splits are by speaker).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from avforge.core.fileio import write_json, write_text
from avforge.core.types import ModifyType

LAYOUTS = ("lavdf", "avdeepfake1m")
SPLITS = ("train", "dev", "test")  # LAV-DF names; AV-Deepfake1M calls dev "val"
HIDDEN_LABELS_DIR = "hidden_labels"
AUDIO_MODEL = "espeak-ng"
_AVDF_NAMES = {ModifyType.REAL: "real", ModifyType.VISUAL: "fake_video_real_audio",
               ModifyType.AUDIO: "real_video_fake_audio", ModifyType.BOTH: "fake_video_fake_audio"}


@dataclass(frozen=True)
class SynthVideo:
    """Labels of one generated video (seconds; counts of frames and samples)."""

    modify_type: ModifyType
    fake_segments: tuple[tuple[float, float], ...]
    n_frames: int
    n_samples: int
    duration_s: float
    speaker: str
    split: str  # train / dev / test
    transcript: tuple[tuple[str, float, float], ...]  # (word, start_s, end_s) as heard
    operations: tuple[dict, ...]  # {"operation": "replace", "old_word", "new_word", "start", "end"}


def split_dir(layout: str, split: str) -> str:
    return "val" if layout == "avdeepfake1m" and split == "dev" else split


def video_key(layout: str, video: SynthVideo, group: int, index: int) -> tuple[str, str]:
    """(``file`` as the metadata lists it, path relative to the dataset root)."""
    if layout == "lavdf":
        key = f"{video.split}/{index:06d}.mp4"
        return key, key
    key = f"{video.speaker}/syn{group:06d}/00000/{_AVDF_NAMES[video.modify_type]}.mp4"
    return key, f"{split_dir(layout, video.split)}/{key}"


def _segments(segments) -> list[list[float]]:
    return [[s, e] for s, e in segments]


def make_record(layout: str, video: SynthVideo, file: str, original: str | None) -> dict:
    """The metadata record of one video in ``layout``'s schema."""
    mt, segs = video.modify_type, _segments(video.fake_segments)
    if layout == "lavdf":
        return {"file": file, "n_fakes": len(segs), "fake_periods": segs, "duration": video.duration_s,
                "original": original, "modify_video": mt.visual_fake, "modify_audio": mt.audio_fake,
                "split": video.split, "video_frames": video.n_frames, "audio_channels": 1,
                "audio_frames": video.n_samples, "timestamps": [[s, e] for _, s, e in video.transcript],
                "transcript": " ".join(w for w, _, _ in video.transcript), "speaker": video.speaker}
    return {"file": file, "original": original, "split": split_dir(layout, video.split), "modify_type": mt.value,
            "audio_model": AUDIO_MODEL if mt.audio_fake else "", "fake_segments": segs,
            "audio_fake_segments": segs if mt.audio_fake else [],
            "visual_fake_segments": segs if mt.visual_fake else [],
            "video_frames": video.n_frames, "audio_frames": video.n_samples, "speaker": video.speaker}


def per_video_record(record: dict, video: SynthVideo) -> dict:
    """AV-Deepfake1M's per-video JSON: the record plus word-level transcripts and operations."""
    return {**record, "transcripts": [{"word": w, "start": s, "end": e} for w, s, e in video.transcript],
            "operations": list(video.operations)}


def write_metadata(root: Path, layout: str, entries: list[tuple[SynthVideo, dict]]) -> None:
    """Write the layout's metadata files for ``(video, record)`` entries (in generation order)."""
    root = Path(root)
    if layout == "lavdf":
        write_json(root / "metadata.json", [record for _, record in entries], indent=1)
        return
    for split in SPLITS:
        name = split_dir(layout, split)
        chosen = [(v, r) for v, r in entries if v.split == split]
        labels_root = root / HIDDEN_LABELS_DIR if split == "test" else root
        for video, record in chosen:
            write_json(labels_root / f"{name}_metadata" / record["file"].replace(".mp4", ".json"),
                       per_video_record(record, video))
        write_json(labels_root / f"{name}_metadata.json", [r for _, r in chosen], indent=1)
        if split == "test":
            write_text(root / "test_files.txt", "".join(r["file"] + "\n" for _, r in chosen))
