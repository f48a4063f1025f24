"""Target building on hand-worked cases: segments (seconds) -> positives and distances (frames)."""
import torch

from avforge.models.targets import anchor_free_targets, bm_iou_targets, make_points, segments_to_frames


def test_segments_convert_to_fractional_frames():
    frames = segments_to_frames(torch.tensor([[0.092, 0.316]]))
    torch.testing.assert_close(frames, torch.tensor([[2.3, 7.9]]))


def test_points_are_level_centres():
    centres, strides, levels = make_points([4, 2], (1, 2))
    assert centres.tolist() == [0.5, 1.5, 2.5, 3.5, 1.0, 3.0]
    assert strides.tolist() == [1, 1, 1, 1, 2, 2] and levels.tolist() == [0, 0, 0, 0, 1, 1]


def test_centre_sampling_and_regression_ranges():
    # Segment [2.3, 7.9] frames, centre 5.1. Level 0 (stride 1, range [0, 4]): radius 1.5 keeps
    # centres 4.5, 5.5, 6.5; 6.5 is 4.2 from the start (> 4) so it moves to level 1.
    # Level 1 (stride 2, range [4, 8]): centres 3, 5, 7 lie within 3 of the centre; at 5 the
    # larger distance is 2.9 (< 4), so only 3 and 7 are positive.
    centres, strides, levels = make_points([10, 5], (1, 2))
    seg = segments_to_frames(torch.tensor([[0.092, 0.316]]))
    t = anchor_free_targets(centres, strides, levels, seg, torch.tensor([1]), ((0, 4), (4, 8)), 1.5)
    pos = torch.nonzero(t.positive).flatten().tolist()
    assert [centres[i].item() for i in pos] == [4.5, 5.5, 3.0, 7.0]
    torch.testing.assert_close(t.distances_frames[pos],
                               torch.tensor([[2.2, 3.4], [3.2, 2.4], [0.7, 4.9], [4.7, 0.9]]))
    assert t.modality[pos].tolist() == [1, 1, 1, 1]
    assert bool((t.distances_frames[~t.positive] == 0).all())


def test_overlapping_segments_go_to_the_shortest():
    centres, strides, levels = make_points([10], (1,))
    segs = torch.tensor([[0.2, 9.8], [4.0, 6.2]])
    t = anchor_free_targets(centres, strides, levels, segs, torch.tensor([0, 2]), ((0, 100),), 100.0)
    i = 5  # centre 5.5 lies in both
    assert bool(t.positive[i]) and t.modality[i].item() == 2
    torch.testing.assert_close(t.distances_frames[i], torch.tensor([1.5, 0.7]))
    assert t.modality[2].item() == 0  # centre 2.5 only in the long one


def test_no_segments_no_positives():
    centres, strides, levels = make_points([6], (1,))
    t = anchor_free_targets(centres, strides, levels, torch.zeros(0, 2), torch.zeros(0, dtype=torch.long),
                            ((0, 100),), 1.5)
    assert not t.positive.any()


def test_bm_targets_are_best_iou_per_cell():
    iou = bm_iou_targets(torch.tensor([[2.5, 4.5]]), n_frames=6, max_duration_frames=3)
    assert iou.shape == (3, 6)
    # row d-1 holds duration d; cell [d, t] = frames [t, t + d)
    torch.testing.assert_close(iou[1, 2], torch.tensor(1.5 / 2.5))  # [2, 4]
    torch.testing.assert_close(iou[1, 3], torch.tensor(1.5 / 2.5))  # [3, 5]
    torch.testing.assert_close(iou[2, 2], torch.tensor(2 / 3))  # [2, 5]
    assert iou[0, 0].item() == 0.0
    assert torch.equal(bm_iou_targets(torch.zeros(0, 2), 6, 3), torch.zeros(3, 6))
