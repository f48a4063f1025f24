"""Pseudo-forgeries from a clip's own features (avforge.data.splice) and their labels in FeatureDataset."""
from dataclasses import dataclass

import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.core.types import VideoRecord
from avforge.data.dataset import FeatureDataset, collate
from avforge.data.splice import MARGIN_FRAMES, MIN_SHIFT_FRAMES, SPAN_FRAMES, apply_splice, plan_splice
from avforge.engine.config import DataConfig


def speech_like(n: int, c: int, seed: int) -> np.ndarray:
    """(n, c) features that change from word to word (a new random vector every 6 frames, noise on top)."""
    rng = np.random.default_rng(seed)
    words = rng.normal(size=(n // 6 + 1, c)).repeat(6, axis=0)[:n]
    return (words + 0.05 * rng.normal(size=(n, c))).astype(np.float32)


def test_a_splice_stays_in_the_window_away_from_forgeries_and_takes_another_word():
    n = 200
    features = {"visual": speech_like(n, 8, 0), "audio": speech_like(n, 5, 1)}
    forged = np.zeros(n, dtype=bool)
    forged[90:110] = True
    seen_streams, donors_after = set(), 0
    for seed in range(60):
        splice = plan_splice(features, forged, (40, 160), np.random.default_rng(seed))
        assert splice is not None
        span = splice.stop - splice.start
        assert SPAN_FRAMES[0] <= span <= SPAN_FRAMES[1]
        assert 40 <= splice.start and splice.stop <= 160
        for lo in (splice.start, splice.donor):  # neither the span nor its donor touches the forgery
            assert not forged[max(0, lo - MARGIN_FRAMES):lo + span + MARGIN_FRAMES].any()
        assert abs(splice.donor - splice.start) >= span + MIN_SHIFT_FRAMES
        out = apply_splice(features, splice)
        other = "audio" if splice.stream == "visual" else "visual"
        assert out[other] is features[other]
        changed = np.flatnonzero((out[splice.stream] != features[splice.stream]).any(axis=1))
        assert changed.min() >= splice.start and changed.max() < splice.stop
        np.testing.assert_array_equal(out[splice.stream][splice.start:splice.stop],
                                      features[splice.stream][splice.donor:splice.donor + span])
        seen_streams.add(splice.stream)
        donors_after += splice.donor > splice.start
    assert seen_streams == {"audio", "visual"}
    assert 0 < donors_after < 60  # donors come from before and after the span


def test_nothing_is_labelled_fake_where_pasting_changes_nothing():
    """A clip whose stream never changes (a long pause): no donor differs, so no pseudo-forgery."""
    n = 120
    flat = {"visual": np.ones((n, 4), np.float32), "audio": np.zeros((n, 3), np.float32)}
    assert all(plan_splice(flat, np.zeros(n, bool), (0, n), np.random.default_rng(s)) is None for s in range(20))
    short = {"visual": speech_like(20, 4, 0), "audio": speech_like(20, 3, 1)}  # no donor far enough away
    assert plan_splice(short, np.zeros(20, bool), (0, 20), np.random.default_rng(0)) is None


def test_the_donor_is_the_smoothest_of_those_that_differ():
    """Among donors that change the content, the pasted span continues its surroundings best."""
    n = 200
    x = speech_like(n, 6, 3)
    rng_ref = np.random.default_rng(5)
    splice = plan_splice({"visual": x, "audio": x}, np.zeros(n, bool), (0, n), rng_ref)
    span = splice.stop - splice.start

    def jump(d):
        return (np.linalg.norm(x[splice.start - 1] - x[d]) if splice.start > 0 else 0) + \
               (np.linalg.norm(x[splice.stop] - x[d + span - 1]) if splice.stop < n else 0)
    random_donors = [d for d in range(n - span + 1) if abs(d - splice.start) >= span + MIN_SHIFT_FRAMES]
    assert jump(splice.donor) <= np.median([jump(d) for d in random_donors])


@dataclass
class Feat:
    data: np.ndarray
    fps: float = 25.0


class Store:
    def __init__(self, arrays):
        self.arrays = arrays

    def load(self, file):
        return Feat(self.arrays[file])


RECORDS = [VideoRecord("real.mp4", "train", "real"),
           VideoRecord("fake.mp4", "train", "audio_modified", fake_segments=[(2.0, 2.4)]),
           VideoRecord("test.mp4", "test", "real", labelled=False)]
VISUAL = Store({r.file: speech_like(250, 6, i) for i, r in enumerate(RECORDS)})
AUDIO = Store({r.file: speech_like(250, 4, 10 + i) for i, r in enumerate(RECORDS)})


def test_dataset_labels_a_pseudo_forgery_as_a_forgery_of_its_stream():
    plain = FeatureDataset(RECORDS, VISUAL, AUDIO, max_frames=150, seed=3)
    spliced = FeatureDataset(RECORDS, VISUAL, AUDIO, max_frames=150, seed=3, splice_prob=1.0)
    streams = set()
    for epoch in range(6):
        plain.set_epoch(epoch), spliced.set_epoch(epoch)
        for i in (0, 1):
            a, b = plain[i], spliced[i]
            assert a.offset_s == b.offset_s  # the crop does not depend on the splice
            assert len(b.segments) == len(a.segments) + 1
            new = [k for k, seg in enumerate(b.segments.tolist()) if seg not in a.segments.tolist()]
            assert len(new) == 1
            assert b.segment_pseudo.tolist() == [k == new[0] for k in range(len(b.segments))]
            assert not a.segment_pseudo.any()
            stream = ("audio", "visual")[b.segment_modality[new[0]]]
            streams.add(stream)
            start_s, end_s = b.segments[new[0]]
            frames = np.flatnonzero(getattr(b, f"{stream}_labels") & ~getattr(a, f"{stream}_labels"))
            assert len(frames) == round((end_s - start_s) * 25)
            assert frames[0] == round(start_s * 25)
            changed = np.flatnonzero((getattr(b, stream) != getattr(a, stream)).any(axis=1))
            assert set(changed) <= set(frames) and len(changed) >= len(frames) - 1
            other = "visual" if stream == "audio" else "audio"
            np.testing.assert_array_equal(getattr(b, other), getattr(a, other))
            np.testing.assert_array_equal(getattr(b, f"{other}_labels"), getattr(a, f"{other}_labels"))
            np.testing.assert_array_equal(b.frame_labels, a.frame_labels | getattr(b, f"{stream}_labels"))
        assert spliced[2].segments is None  # unlabelled videos are never spliced
    assert streams == {"audio", "visual"}
    again = FeatureDataset(RECORDS, VISUAL, AUDIO, max_frames=150, seed=3, splice_prob=1.0)
    again.set_epoch(5)
    np.testing.assert_array_equal(again[0].segments, spliced[0].segments)  # reproducible per epoch
    half = FeatureDataset(RECORDS[:2] * 20, VISUAL, AUDIO, max_frames=150, seed=3, splice_prob=0.5)
    counts = [len(half[i].segments) - len(plain[i % 2].segments) for i in range(40)]
    assert 8 <= sum(counts) <= 32


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_splice_prob_outside_0_1_is_a_config_error(bad):
    with pytest.raises(AvforgeError, match="splice_prob"):
        DataConfig(splice_prob=bad)


def test_with_word_timings_a_splice_is_whole_words_and_its_donor_starts_a_word():
    n = 200
    features = {"visual": speech_like(n, 8, 0), "audio": speech_like(n, 5, 1)}
    forged = np.zeros(n, dtype=bool)
    forged[90:110] = True
    bounds = np.cumsum(np.r_[3, np.tile([7, 9, 5, 11, 8], 8)])  # words of 5-11 frames, back to back
    words = np.c_[bounds[:-1], bounds[1:]][bounds[1:] <= n]
    runs = {(int(a), int(b)) for a, b in words} | {(int(words[i, 0]), int(words[i + 1, 1])) for i in range(len(words) - 1)}
    spans = set()
    for seed in range(60):
        splice = plan_splice(features, forged, (40, 160), np.random.default_rng(seed), words)
        span = splice.stop - splice.start
        assert (splice.start, splice.stop) in runs and SPAN_FRAMES[0] <= span <= SPAN_FRAMES[1]
        assert 40 <= splice.start and splice.stop <= 160
        assert not forged[splice.start - MARGIN_FRAMES:splice.stop + MARGIN_FRAMES].any()
        assert splice.donor in words[:, 0] and abs(splice.donor - splice.start) >= span + MIN_SHIFT_FRAMES
        assert not forged[max(0, splice.donor - MARGIN_FRAMES):splice.donor + span + MARGIN_FRAMES].any()
        spans.add(span)
    assert len(spans) >= 4  # one- and two-word runs of several lengths
    # no run of 1-2 words fits the window: back to random frames
    splice = plan_splice(features, forged, (40, 160), np.random.default_rng(0), np.array([[0, 30]]))
    assert splice is not None and 40 <= splice.start


def test_dataset_cuts_pseudo_forgeries_at_the_clip_s_word_boundaries():
    words_s = np.arange(0.12, 9.9, 0.36)  # a word every 9 frames, starting mid-frame
    words = {"real.mp4": np.c_[words_s[:-1], words_s[1:]]}
    spliced = FeatureDataset(RECORDS, VISUAL, AUDIO, max_frames=150, seed=3, splice_prob=1.0, words=words,
                             splice_at_words=True)
    plain = FeatureDataset(RECORDS, VISUAL, AUDIO, max_frames=150, seed=3, splice_prob=1.0)
    on_words = set()
    for epoch in range(4):
        spliced.set_epoch(epoch), plain.set_epoch(epoch)
        item = spliced[0]
        (start_s, end_s), = item.segments[item.segment_pseudo] + item.offset_s
        # words start on frame edges here (3 + 9k frames), so the pseudo-forgery starts exactly at one
        assert np.abs(words_s - start_s).min() < 1e-6
        assert round((end_s - start_s) * 25) in (9, 18)
        on_words.add(start_s)
        assert plain[1].segments.tolist() == spliced[1].segments.tolist()  # a clip without timings: as before
    assert len(on_words) > 1


def test_word_timings_travel_with_each_crop_and_move_the_cuts_only_when_asked_to():
    words_s = np.arange(0.12, 9.9, 0.36)
    words = {"real.mp4": np.c_[words_s[:-1], words_s[1:]]}
    timed = FeatureDataset(RECORDS, VISUAL, AUDIO, max_frames=150, seed=3, splice_prob=1.0, words=words)
    plain = FeatureDataset(RECORDS, VISUAL, AUDIO, max_frames=150, seed=3, splice_prob=1.0)
    for epoch in range(3):
        timed.set_epoch(epoch), plain.set_epoch(epoch)
        item = timed[0]
        assert item.segments.tolist() == plain[0].segments.tolist()  # cut at random frames, as without timings
        inside = words["real.mp4"][(words["real.mp4"][:, 1] > item.offset_s)
                                   & (words["real.mp4"][:, 0] < item.offset_s + item.duration_s)]
        expected = np.clip(inside - item.offset_s, 0, item.duration_s)
        np.testing.assert_allclose(item.words, expected)
        assert timed[1].words is None
    batch = collate([timed[0], timed[1]])
    assert batch.words_known.tolist() == [True, False] and len(batch.words[0]) == len(item.words)
    assert len(batch.words[1]) == 0 and collate([plain[0]]).words is None
