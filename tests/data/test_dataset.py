"""FeatureDataset + collate over duck-typed stores (anything with .load(file))."""
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from avforge.core.errors import AvforgeError
from avforge.core.types import VideoRecord
from avforge.data.dataset import FeatureDataset, collate


@dataclass
class Feat:
    data: np.ndarray
    fps: float = 25.0
    encoder: str = "fake"


class FakeStore:
    def __init__(self, arrays: dict):
        self.arrays = arrays

    def load(self, file):
        return Feat(self.arrays[file])


@dataclass
class Entry:  # ManifestEntry-like
    record: VideoRecord


def ramp(n, c):
    """(n, c) features whose first channel is the frame index, to check crops."""
    x = np.zeros((n, c), dtype=np.float32)
    x[:, 0] = np.arange(n)
    return x


RECORDS = [
    VideoRecord("a.mp4", "train", "both_modified", fake_segments=[(0.5, 0.9), (2.03, 2.51)],
                audio_fake_segments=[(0.5, 0.9), (2.03, 2.51)], visual_fake_segments=[(2.03, 2.51)]),
    VideoRecord("b.mp4", "train", "real"),
    VideoRecord("c.mp4", "train", "visual_modified", fake_segments=[(0.1, 0.3)]),  # flags only
]
VISUAL = FakeStore({"a.mp4": ramp(80, 6), "b.mp4": ramp(50, 6), "c.mp4": ramp(30, 6)})
AUDIO = FakeStore({"a.mp4": ramp(81, 4), "b.mp4": ramp(49, 4), "c.mp4": ramp(30, 4)})


def test_whole_video_items_and_labels():
    ds = FeatureDataset([Entry(r) for r in RECORDS], VISUAL, AUDIO)
    a = ds[0]
    assert a.visual.shape == (80, 6) and a.audio.shape == (80, 4)  # audio 81 -> cut to 80
    assert a.offset_s == 0.0 and a.duration_s == pytest.approx(3.2)
    # frame i is fake when its centre (i + 0.5) / 25 lies in a segment: 0.5-0.9 s -> frames 12..21,
    # 2.03-2.51 s -> frames 51..62 (centre 2.02 of frame 50 is before the start)
    assert np.flatnonzero(a.frame_labels).tolist() == list(range(12, 22)) + list(range(51, 63))
    assert np.array_equal(a.audio_labels, a.frame_labels)
    assert np.flatnonzero(a.visual_labels).tolist() == list(range(51, 63))
    np.testing.assert_allclose(a.segments, [[0.5, 0.9], [2.03, 2.51]])
    assert a.segment_modality.tolist() == [0, 2]  # audio, both
    c = ds[2]
    assert c.segment_modality.tolist() == [1]  # from modify_type
    assert c.visual_labels.sum() == 5 and c.audio_labels.sum() == 0


def test_segment_modalities_fall_back_to_modify_type():
    assert RECORDS[2].segment_modalities() == ["visual"]
    assert VideoRecord("x", "t", "audio_modified", fake_segments=[(0, 1)]).segment_modalities() == ["audio"]


def test_random_crop_is_reproducible_and_shifts_segments():
    ds = FeatureDataset(RECORDS, VISUAL, AUDIO, max_frames=40, seed=7)
    first, again = ds[0], ds[0]
    assert len(first.visual) == 40 and np.array_equal(first.visual, again.visual)
    start = int(first.visual[0, 0])
    assert first.offset_s == pytest.approx(start / 25)
    assert np.array_equal(first.audio[:, 0], first.visual[:, 0])  # streams cropped together
    expected = [(max(s, first.offset_s) - first.offset_s, min(e, first.offset_s + 1.6) - first.offset_s)
                for s, e in RECORDS[0].fake_segments]
    expected = [seg for seg in expected if seg[1] > seg[0]]
    np.testing.assert_allclose(first.segments.reshape(-1, 2), np.asarray(expected).reshape(-1, 2), atol=1e-9)
    starts = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        starts.add(int(ds[0].visual[0, 0]))
    assert len(starts) > 1
    assert len(ds[2].visual) == 30  # shorter than max_frames: whole video


def test_collate_pads_and_masks():
    ds = FeatureDataset(RECORDS, VISUAL, AUDIO)
    batch = collate([ds[0], ds[1], ds[2]])
    assert batch.visual.shape == (3, 80, 6) and batch.audio.shape == (3, 80, 4)
    assert batch.mask.sum(1).tolist() == [80, 49, 30]
    assert batch.files == ["a.mp4", "b.mp4", "c.mp4"]
    assert batch.frame_labels[0].sum() == 22 and batch.frame_labels[1].sum() == 0
    assert bool((batch.visual[1, 49:] == 0).all()) and bool((batch.frame_labels[2, 30:] == 0).all())
    assert [len(s) for s in batch.segments] == [2, 0, 1]
    assert batch.segments[1].shape == (0, 2) and batch.segment_modality[1].dtype == torch.int64


def test_unlabelled_records_give_a_batch_without_labels():
    rec = VideoRecord("b.mp4", "test", "real", labelled=False)
    batch = collate([FeatureDataset([rec], VISUAL, AUDIO)[0]])
    assert batch.frame_labels is None and batch.segments is None and batch.mask.sum() == 49


def test_mismatched_lengths_and_fps_are_user_errors():
    bad = FakeStore({"a.mp4": ramp(70, 4)})
    with pytest.raises(AvforgeError, match="differ by more than 2 frames"):
        FeatureDataset(RECORDS[:1], VISUAL, bad)[0]

    class Fps30(FakeStore):
        def load(self, file):
            return Feat(self.arrays[file], fps=30.0)
    with pytest.raises(AvforgeError, match="30.0 fps"):
        FeatureDataset(RECORDS[:1], VISUAL, Fps30(AUDIO.arrays))[0]
