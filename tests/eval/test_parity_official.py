"""Parity with the official AV-Deepfake1M evaluator (avdeepfake1m 0.0.4's compiled ``_evaluation``).

The extension is loaded straight from its .so (the package's own imports need torch extras).
"""
import importlib.metadata
import importlib.util
import json
import re
import warnings

import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.eval import ap_1d, ap_ar_1d, ar_1d
from avforge.eval.protocols import ap_ar

AP_T = [0.5, 0.75, 0.9, 0.95]
AR_N = [50, 30, 20, 10, 5]
AR_T = [0.5 + 0.05 * i for i in range(10)]
TOL = 1e-6


def _official():
    try:
        dist = importlib.metadata.distribution("avdeepfake1m")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("official evaluator not installed (pip install --no-deps avdeepfake1m==0.0.4)")
    so = next((f for f in dist.files or () if f.name.startswith("_evaluation.")), None)
    if so is None:
        pytest.skip("avdeepfake1m is installed without its _evaluation extension")
    spec = importlib.util.spec_from_file_location("_evaluation", dist.locate_file(so))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def official():
    return _official()


def random_case(rng, n_videos):
    """AV-Deepfake1M-like: 3-20 s, ~30 % real, 0-3 short segments, 1-60 unsorted/tied proposals."""
    pred, meta = {}, []
    for i in range(n_videos):
        duration = rng.uniform(3, 20)
        n_seg = 0 if rng.random() < 0.3 else int(rng.integers(1, 4))
        segs = []
        for _ in range(n_seg):
            length = rng.uniform(0.1, 0.8)
            start = rng.uniform(0, duration - length)
            segs.append([round(start, int(rng.integers(1, 4))), round(start + length, 3)])
        segs = [s for s in segs if s[0] < s[1]]
        meta.append({"file": f"v{i:04d}.mp4", "fake_segments": segs, "split": "val"})
        k = int(rng.integers(1, 61))
        starts = rng.uniform(0, duration - 0.1, k)
        lengths = rng.uniform(0.05, 1.0, k)
        if segs:
            g = np.asarray(segs)[rng.integers(0, len(segs), k)]
            near = rng.random(k) < 0.6
            starts = np.where(near, g[:, 0] + rng.normal(0, 0.04, k), starts)
            lengths = np.where(near, g[:, 1] - g[:, 0] + rng.normal(0, 0.04, k), lengths)
        starts = np.round(np.clip(starts, 0, None), 2)
        ends = np.maximum(np.round(starts + np.clip(lengths, 0.02, None), 2), starts + 0.01)
        scores = np.round(rng.random(k), int(rng.integers(1, 5)))  # coarse rounding -> ties
        if rng.random() < 0.5:
            order = np.argsort(-scores, kind="stable")
            starts, ends, scores = starts[order], ends[order], scores[order]
        pred[meta[-1]["file"]] = np.stack([scores, starts, ends], 1).tolist()
    if rng.random() < 0.5:  # prediction files need not follow the label order
        keys = list(pred)
        pred = {keys[i]: pred[keys[i]] for i in rng.permutation(len(keys))}
    return pred, meta


def touching_case(rng):
    """Proposals whose IoU with a segment equals (or is a float32 ulp from) every threshold."""
    pred, meta = {}, []
    thresholds = sorted(set(AP_T + AR_T))
    for i, t in enumerate(thresholds):
        offset = float(rng.choice([0.0, 1.0, 3.3, 7.77]))
        seg = [offset, offset + round(t, 2)]
        rows = [[0.9, offset, offset + 1.0],  # IoU = t exactly when offset == 0
                [0.8, offset, offset + round(t, 2)],  # perfect
                [0.8, offset + 0.5, offset + 2.0]]  # partial
        rng.shuffle(rows)
        meta.append({"file": f"t{i:02d}.mp4", "fake_segments": [seg]})
        pred[f"t{i:02d}.mp4"] = rows
    meta.append({"file": "real.mp4", "fake_segments": []})
    pred["real.mp4"] = [[0.95, 0.0, 1.0], [0.85, 2.0, 3.0]]
    return pred, meta


def write(tmp_path, pred, meta):
    p, m = tmp_path / "pred.json", tmp_path / "meta.json"
    p.write_text(json.dumps(pred))
    m.write_text(json.dumps(meta))
    return str(p), str(m)


def assert_same(ours, theirs):
    assert ours.keys() == theirs.keys()
    for key in theirs:
        if isinstance(theirs[key], dict):
            assert_same(ours[key], theirs[key])
        else:
            assert abs(ours[key] - theirs[key]) <= TOL, (key, ours[key], theirs[key])


def test_random_cases_match_official(official, tmp_path):
    rng = np.random.default_rng(2024)
    for case in range(200):
        pred, meta = random_case(rng, int(rng.integers(1, 40)))
        if not any(m["fake_segments"] for m in meta):
            meta[0]["fake_segments"] = [[0.5, 1.0]]
        args = (*write(tmp_path, pred, meta), "file", "fake_segments", 1.0, AP_T, AR_N, AR_T)
        assert_same(ap_ar_1d(*args), official.ap_ar_1d(*args))


@pytest.mark.parametrize("seed", range(8))
def test_touching_thresholds_match_official(official, tmp_path, seed):
    pred, meta = touching_case(np.random.default_rng(seed))
    args = (*write(tmp_path, pred, meta), "file", "fake_segments", 1.0, AP_T, AR_N, AR_T)
    ours, theirs = ap_ar_1d(*args), official.ap_ar_1d(*args)
    assert_same(ours, theirs)
    assert theirs["ap"][0.5] > 0  # the case really exercises matching


def test_large_case_is_bit_identical_to_official(official, tmp_path):
    # thousands of TPs: the float32 AP sum order (eight lanes) is reproduced, not just approximated
    pred, meta = random_case(np.random.default_rng(7), 3000)
    args = (*write(tmp_path, pred, meta), "file", "fake_segments", 1.0, AP_T, AR_N, AR_T)
    assert ap_ar_1d(*args) == official.ap_ar_1d(*args)


def test_frame_units_single_n_and_separate_calls_match_official(official, tmp_path):
    rng = np.random.default_rng(5)
    pred, meta = random_case(rng, 60)
    frames = {f: [[s, round(a * 25), round(b * 25) + 1] for s, a, b in rows] for f, rows in pred.items()}
    p, m = write(tmp_path, frames, meta)
    args = (p, m, "file", "fake_segments", 25.0)
    assert_same(ap_1d(*args, [0.5, 0.75, 0.95]), official.ap_1d(*args, [0.5, 0.75, 0.95]))
    assert_same(ar_1d(*args, [100], AR_T), official.ar_1d(*args, [100], AR_T))  # one N: contiguous mean
    assert_same(ar_1d(*args, [100, 50, 20, 10], AR_T), official.ar_1d(*args, [100, 50, 20, 10], AR_T))


def test_keys_have_the_official_types(official, tmp_path):
    pred, meta = random_case(np.random.default_rng(1), 5)
    meta[0]["fake_segments"] = [[0.5, 1.0]]
    args = (*write(tmp_path, pred, meta), "file", "fake_segments", 1.0, AP_T, AR_N, AR_T)
    ours, theirs = ap_ar_1d(*args), official.ap_ar_1d(*args)
    assert list(ours) == list(theirs) == ["ap", "ar"]
    assert list(ours["ap"]) == list(theirs["ap"])  # float32 values as floats, e.g. 0.8999999761581421
    assert [type(k) for k in ours["ar"]] == [type(k) for k in theirs["ar"]] == [int] * len(AR_N)


def test_reversed_and_negative_rows_are_scored_like_official_with_a_warning(official, tmp_path):
    """Raw model outputs hold start >= end and negative starts: the official scores them, so does the
    drop-in API (with a warning); `avforge evaluate` / validate-submission still refuse them."""
    rng = np.random.default_rng(11)
    for case in range(12):
        pred, meta = random_case(rng, 30)
        meta[0]["fake_segments"] = meta[0]["fake_segments"] or [[0.5, 1.0]]
        for rows in pred.values():
            for row, u in zip(rows, rng.random(len(rows))):
                if u < 0.15:
                    row[1], row[2] = row[2], row[1]  # reversed
                elif u < 0.2:
                    row[2] = row[1]  # empty
                elif u < 0.35:
                    row[1] = round(row[1] - 1.0, 2)  # may start before 0
        if case % 2:  # reversed ground truth too
            seg = next(m["fake_segments"] for m in meta[1:] if m["fake_segments"])
            seg[0] = seg[0][::-1]
        p, m = write(tmp_path, pred, meta)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours = ap_ar_1d(p, m, "file", "fake_segments", 1.0, AP_T, AR_N, AR_T)
            assert_same(ours, official.ap_ar_1d(p, m, "file", "fake_segments", 1.0, AP_T, AR_N, AR_T))
            assert_same(ap_1d(p, m, "file", "fake_segments", 1.0, AP_T),
                        official.ap_1d(p, m, "file", "fake_segments", 1.0, AP_T))
            assert_same(ar_1d(p, m, "file", "fake_segments", 1.0, AR_N, AR_T),
                        official.ar_1d(p, m, "file", "fake_segments", 1.0, AR_N, AR_T))
        shown = [str(w.message) for w in caught]
        assert sum(bool(re.match(r".*pred\.json: \d+ videos with start >= end: .*scored as given", t))
                   for t in shown) == 3
        assert sum(".json: 1 videos with start >= end" in t and "meta.json" in t for t in shown) == 3 * (case % 2)
    with pytest.raises(AvforgeError, match="videos with start >= end"):  # where a submission is judged
        ap_ar(p, m)
