import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.core.timegrid import TimeGrid
from avforge.core.types import ModifyType, Proposals, VideoRecord


@pytest.mark.parametrize("text,expected", [("real", ModifyType.REAL), ("both_modified", ModifyType.BOTH),
                                           ("both-modified", ModifyType.BOTH), ("Audio_Modified", ModifyType.AUDIO),
                                           (ModifyType.VISUAL, ModifyType.VISUAL)])
def test_modify_type_parses_both_spellings(text, expected):
    assert ModifyType.parse(text) is expected


def test_modify_type_flags_and_unknown():
    assert ModifyType.from_flags(audio=True, visual=True) is ModifyType.BOTH
    assert ModifyType.BOTH.audio_fake and ModifyType.BOTH.visual_fake
    assert not ModifyType.AUDIO.visual_fake
    with pytest.raises(AvforgeError, match="unknown modify_type"):
        ModifyType.parse("partly_fake")


def test_video_record_round_trip_and_defaults():
    rec = VideoRecord("train/a.mp4", "train", "both-modified", [[1, 2.5]], [[1, 2.5]], [[1, 2.5]], duration_s=4.0)
    assert rec.modify_type is ModifyType.BOTH and rec.fake_segments == ((1.0, 2.5),) and rec.is_fake
    assert VideoRecord.from_dict(rec.to_dict()) == rec
    assert not VideoRecord("x.mp4", "test").is_fake
    with pytest.raises(AvforgeError, match="unknown VideoRecord fields"):
        VideoRecord.from_dict({"file": "x", "split": "t", "bogus": 1})


def test_proposals_sorted_is_stable():
    p = Proposals.from_rows([[0.5, 0, 1], [0.9, 2, 3], [0.5, 4, 5]])
    s = p.sorted()
    assert s.to_rows() == [[0.9, 2, 3], [0.5, 0, 1], [0.5, 4, 5]]


def test_timegrid_conversions():
    g = TimeGrid(25.0)
    assert g.num_frames(4.0) == 100 and g.num_frames(4.01) == 101 and g.num_frames(0.0) == 0
    assert g.index_of(0.04) == 1 and g.index_of(0.0399) == 0
    mask = g.segments_to_mask([(0.1, 0.3)], 10)  # centres 0.02, 0.06, ... -> frames 2..6
    assert np.flatnonzero(mask).tolist() == [2, 3, 4, 5, 6]
    assert g.mask_to_segments(mask) == [(0.08, 0.28)]
    assert g.mask_to_segments(np.ones(3, bool)) == [(0.0, 0.12)]
    assert np.allclose(g.to_seconds(g.to_frames([0.013, 2.5])), [0.013, 2.5])


def test_timegrid_tolerates_float32_container_times():
    g = TimeGrid(25.0)
    assert g.num_frames(float(np.float32(2.92))) == 73
    assert g.index_of(float(np.float32(0.12))) == 3


def test_segment_modality_from_overlaps_then_modify_type():
    from avforge.core.types import segment_modality

    assert segment_modality((1, 2), [(1.5, 2)], [(0, 1.2)], ModifyType.BOTH) == "both"
    assert segment_modality((1, 2), [(1.5, 2)], [(2, 3)], ModifyType.BOTH) == "audio"  # touching is no overlap
    assert segment_modality((1, 2), [], [], ModifyType.VISUAL) == "visual"
    assert segment_modality((1, 2), None, None, None) == "both"
