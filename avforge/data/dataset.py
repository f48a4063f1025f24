"""FeatureDataset: cached visual + audio features of each video with frame labels; collate -> Batch.

Reads two feature stores (anything with ``.load(file) -> (data (T, C), fps, ...)``); never
writes anything. Times stay in seconds; the 25 fps ``VIDEO_GRID`` turns segments into frame
labels.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from avforge.core.batch import Batch
from avforge.core.types import MODALITIES
from avforge.core.errors import AvforgeError
from avforge.core.timegrid import VIDEO_GRID
from avforge.core.types import VideoRecord
from avforge.data.splice import apply_splice, plan_splice

MAX_LENGTH_MISMATCH_FRAMES = 2  # visual/audio stores may differ by rounding; more is an error


@dataclass
class FeatureItem:
    """One (possibly cropped) clip. Times in seconds relative to ``offset_s``; labels None if unlabelled."""

    file: str
    visual: np.ndarray  # (T, Cv) float32
    audio: np.ndarray  # (T, Ca) float32
    offset_s: float
    duration_s: float
    frame_labels: np.ndarray | None = None  # (T,) bool, any modality fake
    audio_labels: np.ndarray | None = None  # (T,) bool
    visual_labels: np.ndarray | None = None  # (T,) bool
    segments: np.ndarray | None = None  # (N, 2) seconds, fused fake segments inside the clip
    segment_modality: np.ndarray | None = None  # (N,) ids into MODALITIES
    segment_pseudo: np.ndarray | None = None  # (N,) bool: a pseudo-forgery of ``data.splice``, not a label
    words: np.ndarray | None = None  # (W, 2) seconds, the spoken words inside the clip; None = unknown


def _modality_segments(record: VideoRecord, modality: str):
    """The record's segments for one modality; the fused ones if only the modify type says so."""
    own = record.audio_fake_segments if modality == "audio" else record.visual_fake_segments
    fake = record.modify_type.audio_fake if modality == "audio" else record.modify_type.visual_fake
    return own if own or not fake else record.fake_segments


def _clip_segments(segments, start_s: float, end_s: float) -> np.ndarray:
    """Segments cut to [start_s, end_s), made relative to start_s; empty pieces dropped."""
    out = [(max(s, start_s) - start_s, min(e, end_s) - start_s) for s, e in segments]
    return np.asarray([(s, e) for s, e in out if e > s], dtype=np.float64).reshape(-1, 2)


def _entry_record(entry) -> VideoRecord:
    return entry if isinstance(entry, VideoRecord) else entry.record


class FeatureDataset(torch.utils.data.Dataset):
    """Items of cached features for ``entries`` (VideoRecords or objects with ``.record``,
    e.g. ManifestEntry). The store key of a video is ``record.file``.

    ``max_frames``: random crop of at most that many frames (training); None = whole video.
    Crops are reproducible: they depend on ``seed``, the item index and ``set_epoch``.
    Visual and audio lengths may differ by up to 2 frames (encoder rounding): both are cut to
    the shorter one. Larger differences raise ``AvforgeError``.
    ``splice_prob``: chance that a labelled item gets one pseudo-forgery (``avforge.data.splice``:
    a word of one stream replaced by the clip's own stream from elsewhere), labelled as a forgery
    of that stream; reproducible like the crops. ``words``: optional file -> (W, 2) word timings in
    seconds (``avforge.data.words``), handed on with each item; ``splice_at_words``: a clip that has them
    gets its pseudo-forgeries at word boundaries.
    """

    def __init__(self, entries, visual_store, audio_store, max_frames: int | None = None, seed: int = 0,
                 splice_prob: float = 0.0, words: Mapping[str, np.ndarray] | None = None,
                 splice_at_words: bool = False):
        self.records = [_entry_record(e) for e in entries]
        self.words, self.splice_at_words = words or {}, splice_at_words
        self.visual_store, self.audio_store = visual_store, audio_store
        self.max_frames, self.seed, self.epoch, self.splice_prob = max_frames, seed, 0, splice_prob

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def _features(self, record: VideoRecord) -> tuple[np.ndarray, np.ndarray]:
        visual, audio = self.visual_store.load(record.file), self.audio_store.load(record.file)
        for name, feat in (("visual", visual), ("audio", audio)):
            if abs(float(feat.fps) - VIDEO_GRID.fps) > 1e-6:
                raise AvforgeError(f"{name} features of {record.file!r} are at {feat.fps} fps, expected {VIDEO_GRID.fps}")
        v, a = np.asarray(visual.data, dtype=np.float32), np.asarray(audio.data, dtype=np.float32)
        if abs(len(v) - len(a)) > MAX_LENGTH_MISMATCH_FRAMES:
            raise AvforgeError(f"visual ({len(v)}) and audio ({len(a)}) feature lengths of {record.file!r} differ "
                               f"by more than {MAX_LENGTH_MISMATCH_FRAMES} frames; re-extract one of them")
        n = min(len(v), len(a))
        if n == 0:
            raise AvforgeError(f"no feature frames for {record.file!r}")
        return v[:n], a[:n]

    def __getitem__(self, index: int) -> FeatureItem:
        record = self.records[index]
        visual, audio = self._features(record)
        n = len(visual)
        start_idx = 0
        if self.max_frames is not None and n > self.max_frames:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            start_idx = int(rng.integers(0, n - self.max_frames + 1))
            n = self.max_frames
        segments = ([(seg, m, False) for seg, m in zip(record.fake_segments, record.segment_modalities())]
                    if record.labelled else [])
        if record.labelled and self.splice_prob > 0:
            visual, audio, pseudo = self._splice(index, record, visual, audio, (start_idx, start_idx + n))
            segments += [(seg, stream, True) for seg, stream in pseudo]
        visual, audio = visual[start_idx:start_idx + n], audio[start_idx:start_idx + n]
        offset_s, duration_s = float(VIDEO_GRID.time_of(start_idx)), float(VIDEO_GRID.time_of(n))
        item = FeatureItem(record.file, visual, audio, offset_s, duration_s)
        words = self.words.get(record.file)
        if words is not None:
            item.words = _clip_segments(words, offset_s, offset_s + duration_s)
        if not record.labelled:
            return item
        end_s = offset_s + duration_s
        inside = sorted(x for x in segments if min(x[0][1], end_s) > max(x[0][0], offset_s))
        item.segments = _clip_segments([seg for seg, _, _ in inside], offset_s, end_s)
        item.segment_modality = np.asarray([MODALITIES.index(m) for _, m, _ in inside], dtype=np.int64)
        item.segment_pseudo = np.asarray([pseudo for _, _, pseudo in inside], dtype=bool)
        item.frame_labels = VIDEO_GRID.segments_to_mask(item.segments, n)
        for name in ("audio", "visual"):
            own = list(_modality_segments(record, name)) + [seg for seg, m, pseudo in segments if pseudo and m == name]
            setattr(item, f"{name}_labels", VIDEO_GRID.segments_to_mask(_clip_segments(own, offset_s, end_s), n))
        return item

    def _splice(self, index: int, record: VideoRecord, visual, audio, window):
        """With probability ``splice_prob``: the features with one pseudo-forgery inside ``window``
        (frames) and its ``[((start_s, end_s), stream)]``; else the features unchanged and ``[]``."""
        rng = np.random.default_rng((self.seed, self.epoch, index, 1))
        if rng.random() >= self.splice_prob:
            return visual, audio, []
        forged = VIDEO_GRID.segments_to_mask(record.fake_segments, len(visual))
        features = {"visual": visual, "audio": audio}
        words = self.words.get(record.file) if self.splice_at_words else None
        splice = plan_splice(features, forged, window, rng,
                             None if words is None else VIDEO_GRID.frame_runs(words))
        if splice is None:
            return visual, audio, []
        features = apply_splice(features, splice)
        span_s = (float(VIDEO_GRID.time_of(splice.start)), float(VIDEO_GRID.time_of(splice.stop)))
        return features["visual"], features["audio"], [(span_s, splice.stream)]


def collate(items: list[FeatureItem]) -> Batch:
    """Pad to the longest item; ``mask`` marks valid frames. Labels only if every item has them."""
    t_max = max(len(it.visual) for it in items)
    b = len(items)
    visual = torch.zeros(b, t_max, items[0].visual.shape[1])
    audio = torch.zeros(b, t_max, items[0].audio.shape[1])
    mask = torch.zeros(b, t_max, dtype=torch.bool)
    for i, it in enumerate(items):
        n = len(it.visual)
        visual[i, :n], audio[i, :n], mask[i, :n] = torch.from_numpy(it.visual), torch.from_numpy(it.audio), True
    batch = Batch(files=[it.file for it in items], visual=visual, audio=audio, mask=mask,
                  offset_s=torch.tensor([it.offset_s for it in items], dtype=torch.float64),
                  duration_s=torch.tensor([it.duration_s for it in items], dtype=torch.float64))
    if all(it.segments is not None for it in items):
        def labels(name):
            out = torch.zeros(b, t_max)
            for i, it in enumerate(items):
                out[i, : len(it.visual)] = torch.from_numpy(getattr(it, name).astype(np.float32))
            return out
        batch.frame_labels, batch.audio_labels, batch.visual_labels = (
            labels("frame_labels"), labels("audio_labels"), labels("visual_labels"))
        batch.segments = [torch.from_numpy(it.segments).float() for it in items]
        batch.segment_modality = [torch.from_numpy(it.segment_modality) for it in items]
        batch.segment_pseudo = [torch.from_numpy(np.zeros(len(it.segments), dtype=bool) if it.segment_pseudo is None
                                                 else it.segment_pseudo) for it in items]
    if any(it.words is not None for it in items):
        batch.words = [torch.from_numpy(np.zeros((0, 2)) if it.words is None else it.words).float() for it in items]
        batch.words_known = torch.tensor([it.words is not None for it in items])
    return batch
