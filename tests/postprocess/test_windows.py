"""Sliding-window plans, frame stitching and candidate merging (pure numpy)."""
import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.core.types import Proposals
from avforge.core.windows import Window, plan_windows, stitch_frames
from avforge.postprocess.windows import merge_proposals


@pytest.mark.parametrize("n", [1, 99, 100, 101, 250, 1000, 1003])
@pytest.mark.parametrize("window,overlap,align", [(100, 40, 1), (100, 40, 8), (64, 0, 1), (128, 100, 4)])
def test_plan_covers_every_frame_once_with_aligned_starts_and_margins(n, window, overlap, align):
    wins = plan_windows(n, window, overlap, align)
    assert wins[0].start_idx == 0 and wins[-1].end_idx == n
    assert all(w.num_frames <= window for w in wins)
    assert all(w.start_idx % align == 0 for w in wins)
    owned = np.concatenate([np.arange(w.keep_start_idx, w.keep_end_idx) for w in wins])
    assert np.array_equal(owned, np.arange(n))  # a partition of the clip, in order
    for i, w in enumerate(wins):
        assert w.start_idx <= w.keep_start_idx <= w.keep_end_idx <= w.end_idx
        # every kept frame is >= overlap // 2 frames from a cut (an interior window edge)
        if i > 0:
            assert w.keep_start_idx - w.start_idx >= overlap // 2
        if i < len(wins) - 1:
            assert w.end_idx - w.keep_end_idx >= overlap // 2


def test_plan_examples_and_errors():
    assert plan_windows(0, 10, 2) == []
    assert plan_windows(10, 10, 4) == [Window(0, 10, 0, 10)]
    assert plan_windows(16, 10, 4) == [Window(0, 10, 0, 8), Window(6, 16, 8, 16)]
    # hop 6 rounded down to the stride 4 -> starts 0, 4, 8
    assert [w.start_idx for w in plan_windows(16, 10, 4, align_frames=4)] == [0, 4, 8]
    with pytest.raises(AvforgeError, match="no hop"):
        plan_windows(100, 10, 10)
    with pytest.raises(AvforgeError, match="no hop"):
        plan_windows(100, 10, 4, align_frames=8)


def test_stitch_equals_a_whole_clip_signal_when_windows_agree_away_from_cuts():
    """Each window sees the true signal except within 3 frames of its interior edges (noise);
    with overlap 10 (margin 5 > 3) the stitched signal is the true one everywhere."""
    n, rng = 203, np.random.default_rng(0)
    truth = rng.random((n, 2)).astype(np.float32)
    wins = plan_windows(n, 50, 10)
    chunks = []
    for i, w in enumerate(wins):
        c = truth[w.start_idx:w.end_idx].copy()
        if i > 0:
            c[:3] = -1.0
        if i < len(wins) - 1:
            c[-3:] = -1.0
        chunks.append(c)
    assert np.array_equal(stitch_frames(wins, chunks, n), truth)
    with pytest.raises(ValueError):
        stitch_frames(wins, chunks[:-1], n)


def test_merge_keeps_each_candidate_from_the_window_owning_its_midpoint():
    wins = plan_windows(100, 60, 20)  # [0,60) keeps [0,50); [40,100) keeps [50,100); 25 fps
    assert (wins[0].keep_end_idx, wins[1].keep_start_idx) == (50, 50)
    first = Proposals(np.array([0.9, 0.5, 0.4]), np.array([0.2, 1.8, 1.9]), np.array([0.6, 2.2, 2.4]),
                      ("audio", "visual", "both"))  # midpoints 0.4 s, 2.0 s (frame 50: not owned), 2.15 s
    second = Proposals(np.array([0.8, 0.7]), np.array([1.8, 3.0]), np.array([2.2, 3.9]), ("visual", "audio"))
    merged = merge_proposals(wins, [first, second])
    assert merged.to_rows() == [[0.9, 0.2, 0.6], [0.8, 1.8, 2.2], [0.7, 3.0, 3.9]]
    assert merged.modality == ("audio", "visual", "audio")
    empty = Proposals(np.zeros(0), np.zeros(0), np.zeros(0), ())
    assert len(merge_proposals(wins, [empty, empty])) == 0
