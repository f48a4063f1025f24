"""Typed per-video records. Every time in these records is in seconds."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

import numpy as np

from avforge.core.errors import AvforgeError

Segment = tuple[float, float]  # (start_s, end_s)
MODALITIES = ("audio", "visual", "both")  # what a forged segment altered; index = class id


class ModifyType(str, Enum):
    """Which modalities of a video were manipulated."""

    REAL = "real"
    AUDIO = "audio_modified"
    VISUAL = "visual_modified"
    BOTH = "both_modified"

    @classmethod
    def parse(cls, value: str) -> "ModifyType":
        """Parse the dataset spelling; hyphens and underscores are the same (``both-modified``)."""
        if isinstance(value, cls):
            return value
        member = _MODIFY_TYPES.get(str(value).strip().lower().replace("-", "_"))
        if member is not None:
            return member
        raise AvforgeError(f"unknown modify_type {value!r} (expected one of {[m.value for m in cls]})")

    @classmethod
    def from_flags(cls, audio: bool, visual: bool) -> "ModifyType":
        return {(False, False): cls.REAL, (True, False): cls.AUDIO,
                (False, True): cls.VISUAL, (True, True): cls.BOTH}[(bool(audio), bool(visual))]

    @property
    def audio_fake(self) -> bool:
        return self in (ModifyType.AUDIO, ModifyType.BOTH)

    @property
    def visual_fake(self) -> bool:
        return self in (ModifyType.VISUAL, ModifyType.BOTH)


_MODIFY_TYPES = {m.value: m for m in ModifyType}


def _overlaps(segment, others) -> bool:
    return any(min(segment[1], e) > max(segment[0], s) for s, e in others or ())


def segment_modality(segment, audio_segments, visual_segments, modify_type: ModifyType | None) -> str:
    """Which modality a fused fake ``segment`` forged: the per-modality segment lists that overlap
    it ("both" when both do); when neither does (datasets with only per-video flags, e.g. LAV-DF),
    the modify type decides ("both" when it is unknown)."""
    a, v = _overlaps(segment, audio_segments), _overlaps(segment, visual_segments)
    if not (a or v) and modify_type is not None:
        a, v = modify_type.audio_fake, modify_type.visual_fake
    return {(True, False): "audio", (False, True): "visual"}.get((a, v), "both")


def _segments(value) -> tuple[Segment, ...]:
    return tuple((float(s), float(e)) for s, e in (value or ()))


@dataclass(frozen=True)
class VideoRecord:
    """One labelled (or unlabelled) video of a dataset.

    ``file`` is the key used in metadata and predictions (a path relative to the dataset root).
    ``fake_segments`` is the union the localization metric scores; the per-modality lists say
    which modality was forged where.
    """

    file: str
    split: str
    modify_type: ModifyType = ModifyType.REAL
    fake_segments: tuple[Segment, ...] = ()
    audio_fake_segments: tuple[Segment, ...] = ()
    visual_fake_segments: tuple[Segment, ...] = ()
    duration_s: float | None = None
    original: str | None = None
    speaker: str | None = None
    labelled: bool = True
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "modify_type", ModifyType.parse(self.modify_type))
        for name in ("fake_segments", "audio_fake_segments", "visual_fake_segments"):
            object.__setattr__(self, name, _segments(getattr(self, name)))

    @property
    def is_fake(self) -> bool:
        return len(self.fake_segments) > 0

    def segment_modalities(self) -> list[str]:
        """The modality (one of MODALITIES) each of ``fake_segments`` forged."""
        return [segment_modality(seg, self.audio_fake_segments, self.visual_fake_segments, self.modify_type)
                for seg in self.fake_segments]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["modify_type"] = self.modify_type.value
        for name in ("fake_segments", "audio_fake_segments", "visual_fake_segments"):
            d[name] = [list(s) for s in getattr(self, name)]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "VideoRecord":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise AvforgeError(f"unknown VideoRecord fields {sorted(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class Proposals:
    """Scored segment proposals for one video, in seconds. Arrays share length N."""

    scores: np.ndarray  # (N,) float
    starts_s: np.ndarray  # (N,) float
    ends_s: np.ndarray  # (N,) float
    modality: tuple[str, ...] | None = None  # per proposal: "audio" | "visual" | "both"

    def __len__(self) -> int:
        return int(len(self.scores))

    @classmethod
    def from_rows(cls, rows) -> "Proposals":
        """From the challenge format ``[[score, start_s, end_s], ...]``."""
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
        return cls(arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy())

    def to_rows(self) -> list[list[float]]:
        return [[float(s), float(a), float(b)] for s, a, b in zip(self.scores, self.starts_s, self.ends_s)]

    def sorted(self) -> "Proposals":
        """Sorted by score, highest first (stable)."""
        order = np.argsort(-np.asarray(self.scores), kind="stable")
        mod = None if self.modality is None else tuple(self.modality[i] for i in order)
        return Proposals(self.scores[order], self.starts_s[order], self.ends_s[order], mod)
