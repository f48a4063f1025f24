"""The timeline PNG: decodes, is not blank, shows the ground truth only when known, written atomically."""
import matplotlib.image
import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.core.types import Proposals, VideoRecord
from avforge.engine.plot import COLORS, plot_timeline

FPS, N = 25.0, 250  # 10 s


def probs():
    t = np.arange(N) / FPS
    bump = ((t >= 3.0) & (t < 4.2)).astype(np.float32)
    return {"audio": 0.1 + 0.65 * bump, "visual": np.full(N, 0.15, np.float32), "fused": 0.05 + 0.85 * bump}


PROPOSALS = Proposals(np.array([0.92, 0.40, 0.12]), np.array([3.0, 6.0, 0.5]), np.array([4.2, 6.6, 1.0]),
                      ("audio", "visual", "both"))
TRUTH = VideoRecord(file="a.mp4", split="test", modify_type="audio_modified", fake_segments=((3.0, 4.2),),
                    audio_fake_segments=((3.0, 4.2),), duration_s=10.0)


def share_of_color(image: np.ndarray, name: str, alpha: float = 1.0) -> float:
    """Fraction of pixels within 0.04 (per channel) of a named matplotlib colour drawn with
    ``alpha`` over white."""
    rgb = 1.0 - alpha * (1.0 - np.array(matplotlib.colors.to_rgb(COLORS[name])))
    return float(np.mean(np.all(np.abs(image[..., :3] - rgb) < 0.04, axis=-1)))


def test_plot_with_truth_is_a_real_image(tmp_path):
    path = plot_timeline(tmp_path / "sub" / "a.png", probs(), PROPOSALS, fps=FPS, truth=TRUTH, title="a.mp4")
    image = matplotlib.image.imread(path)
    assert image.shape[1] == 1200 and image.shape[0] > 500  # 12 in wide at 100 dpi, three panels
    assert image[..., :3].std() > 0.1
    assert share_of_color(image, "audio") > 0.005  # the audio curve, the audio segment bar, the truth lane
    assert share_of_color(image, "truth", alpha=0.12) > 0.01  # the true fake span shaded behind the curves
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["a.png"]  # no temp file left


def test_truth_panel_only_when_known(tmp_path):
    with_truth = matplotlib.image.imread(plot_timeline(tmp_path / "t.png", probs(), PROPOSALS, truth=TRUTH))
    without = matplotlib.image.imread(plot_timeline(tmp_path / "n.png", probs(), PROPOSALS))
    assert without.shape[0] < with_truth.shape[0] and without.shape[1] == with_truth.shape[1]
    assert without[..., :3].std() > 0.1
    assert share_of_color(without, "truth", alpha=0.12) < 0.001  # a few anti-aliased edge pixels at most


def test_no_segments_still_plots(tmp_path):
    empty = Proposals(np.zeros(0), np.zeros(0), np.zeros(0), ())
    image = matplotlib.image.imread(plot_timeline(tmp_path / "e.png", probs(), empty))
    assert image[..., :3].std() > 0.1


def test_unwritable_target_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AvforgeError, match="cannot write"):
        plot_timeline(tmp_path / "file" / "p.png", probs(), PROPOSALS)
