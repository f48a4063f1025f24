"""Validation before scoring: what crashes the official evaluator becomes one clear error."""
import json

import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.eval import ap_ar_1d, validate_predictions
from avforge.eval.loading import load_labels, load_predictions

GOOD = {"a.mp4": [[0.9, 0.1, 0.5], [0.2, 1.0, 2.0]], "b.mp4": []}


def error_of(*args, **kwargs) -> str:
    with pytest.raises(AvforgeError) as info:
        validate_predictions(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_predictions_pass_and_empty_lists_are_valid():
    validate_predictions(GOOD, ["a.mp4", "b.mp4"])
    validate_predictions({}, [])


def test_missing_file_is_named():
    message = error_of(GOOD, ["a.mp4", "b.mp4", "c.mp4"], source="pred.json")
    assert message.startswith("pred.json: ") and "1 missing files" in message and "c.mp4" in message


def test_unknown_file_is_an_error_unless_allowed():
    assert "1 unknown files" in error_of(GOOD, ["a.mp4"]) and "b.mp4" in error_of(GOOD, ["a.mp4"])
    validate_predictions(GOOD, ["a.mp4"], allow_extra=True)


@pytest.mark.parametrize("row, problem", [
    ([float("nan"), 0.1, 0.5], "NaN/inf"),
    ([0.5, 0.1, float("inf")], "NaN/inf"),
    ([0.5, 0.5, 0.5], "start >= end"),
    ([0.5, 0.6, 0.5], "start >= end"),
    ([0.5, -0.1, 0.5], "negative start"),
])
def test_bad_values_name_the_video(row, problem):
    pred = {"a.mp4": GOOD["a.mp4"], "bad.mp4": [[0.9, 0.0, 1.0], row]}
    message = error_of(pred)
    assert problem in message and "bad.mp4" in message and "a.mp4," not in message


@pytest.mark.parametrize("value", [[[0.5, 0.1]], [[0.5, 0.1, 0.2, 0.3]], [[0.5, "0.1", 0.4]], [[0.5, None, 0.4]],
                                   [[True, 0.1, 0.4]], [0.5, 0.1, 0.4], "x", 3])
def test_malformed_rows(value):
    message = error_of({"a.mp4": GOOD["a.mp4"], "bad.mp4": value})
    assert "malformed" in message and "bad.mp4" in message


def test_every_problem_in_one_line_with_first_few_and_a_count():
    pred = {f"{i}.mp4": [[0.5, 2.0, 1.0]] for i in range(12)}
    pred["nan.mp4"] = [[float("nan"), 0.0, 1.0]]
    message = error_of(pred, [f"{i}.mp4" for i in range(12)] + ["gone.mp4"])
    assert "1 missing files" in message and "1 unknown files" in message and "nan.mp4" in message
    assert "12 videos with start >= end: 0.mp4, 1.mp4, 2.mp4, 3.mp4, 4.mp4, ... (+7 more)" in message


def test_numpy_rows_are_accepted():
    validate_predictions({"a": np.array([[0.5, 0.0, 1.0]]), "b": np.zeros((0, 3))}, ["a", "b"])


def test_one_bad_row_among_many_is_found():
    rng = np.random.default_rng(0)
    rows = np.sort(rng.random((2000, 50, 3)), axis=2)  # score <= start < end
    pred = {f"{i}.mp4": r.tolist() for i, r in enumerate(rows)}
    pred["7.mp4"][3][1] = 5.0  # start >= end
    assert "1 videos with start >= end: 7.mp4" in error_of(pred)


# --- file loading ------------------------------------------------------------------------------

def test_fast_and_fallback_parsers_agree(tmp_path):
    rng = np.random.default_rng(1)
    pred = {f"{i:03d}.mp4": np.round(rng.random((int(rng.integers(0, 5)), 3)), 4).tolist() for i in range(50)}
    pred['odd "name".mp4'] = [[0.5, 1e-3, 2.5e1]]  # escaped key: not a plain file -> orjson path
    plain, pretty, escaped = tmp_path / "plain.json", tmp_path / "pretty.json", tmp_path / "escaped.json"
    keys = [k for k in pred if '"' not in k]
    plain.write_text(json.dumps({k: pred[k] for k in keys}, separators=(",", ":")))
    pretty.write_text(json.dumps({k: pred[k] for k in keys}, indent=2))
    escaped.write_text(json.dumps(pred))
    a, b, c = load_predictions(plain), load_predictions(pretty), load_predictions(escaped)
    assert a.files == b.files == keys and c.files == list(pred)
    assert np.array_equal(a.rows, b.rows) and np.array_equal(a.offsets, b.offsets)
    assert np.array_equal(c.rows[: len(a.rows)], a.rows) and c.rows[-1].tolist() == [0.5, 1e-3, 25.0]
    expected = np.array([x for k in keys for row in pred[k] for x in row]).reshape(-1, 3)
    assert np.array_equal(a.rows, expected)


@pytest.mark.parametrize("text, problem", [
    ('{"a": [[0.5, 0.1, 0.4]], "a": []}', "duplicate keys: a"),
    ('{"a": [[0.5, 0.1]]}', "malformed"),
    ('{"a": [[0.5, 0.1, 0.4]]', "not valid JSON"),
    ('{"a": [[NaN, 0.1, 0.4]]}', "not valid JSON"),
    ('{"a": [[0.5, 0.1 0.2, 0.4]]}', "not valid JSON"),
    ('{"a": [5], "b": [[0.5, , 0.4]]}', "not valid JSON"),  # an empty slot and a stray number
    ('{"a": [[0.5, 0.1, 0.4], 7], "b": [[0.5, 0.4 ]], "c": [[1, 2, 3, ]]}', "not valid JSON"),
    ('[[0.5, 0.1, 0.4]]', "top level must be an object"),
])
def test_bad_prediction_files(tmp_path, text, problem):
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(AvforgeError, match=problem) as info:
        load_predictions(path)
    assert str(path) in str(info.value)


def test_labels_keep_record_order_and_duplicates(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps([{"file": "b", "fake_segments": [[1, 2]]}, {"file": "a", "fake_segments": []},
                                {"file": "b", "fake_segments": [[1, 2]]}]))
    labels = load_labels(path)
    assert labels.files == ["b", "a", "b"] and labels.offsets.tolist() == [0, 1, 1, 2]
    path.write_text(json.dumps([{"file": "a"}]))
    with pytest.raises(AvforgeError, match="without 'file' and 'fake_segments'"):
        load_labels(path)


def test_file_api_turns_official_crashes_into_errors(tmp_path):
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps([{"file": "a", "fake_segments": [[0, 1]]}, {"file": "b", "fake_segments": []}]))
    pred = tmp_path / "pred.json"
    args = (str(pred), str(meta), "file", "fake_segments", 1.0, [0.5], [1], [0.5])
    pred.write_text(json.dumps({"a": [[0.5, 0, 1]]}))
    with pytest.raises(AvforgeError, match="missing files .*: b"):
        ap_ar_1d(*args)
    pred.write_text(json.dumps({"a": [[0.5, 0, 1]], "b": [], "c": [[0.5, 0, 1]]}))
    with pytest.raises(AvforgeError, match="unknown files .*: c"):
        ap_ar_1d(*args)
    assert ap_ar_1d(*args, allow_extra=True) == {"ap": {0.5: 0.0}, "ar": {1: 1.0}}


def test_fast_parser_agrees_with_orjson_on_structural_mutations():
    # random insertions/deletions of brackets, commas, colons, quotes, spaces and digits: whenever the
    # fast path accepts a file, orjson reads the same thing; whenever orjson rejects it, so does it
    import orjson

    from avforge.eval.reader import _parse_plain

    rng = np.random.default_rng(11)
    base = json.dumps({"a.mp4": [[9, 1, 2], [8, 3, 45]], "b.mp4": [], "c.mp4": [[7, 6, 9]]}).encode()
    alphabet = b'[],:" 7+-.e0'
    accepted = 0
    for _ in range(6000):
        text = bytearray(base)
        for _ in range(int(rng.integers(1, 3))):
            i = int(rng.integers(0, len(text)))
            if rng.random() < 0.5:
                del text[i]
            else:
                text.insert(i, alphabet[int(rng.integers(0, len(alphabet)))])
        text = bytes(text)
        fast = _parse_plain(text, "x")
        try:
            ref = orjson.loads(text)
        except orjson.JSONDecodeError:
            ref = None
        if fast is None:
            continue
        accepted += 1
        assert isinstance(ref, dict), text
        assert fast.files == list(ref) and fast.rows.tolist() == [r for v in ref.values() for r in v], text
    assert accepted > 50  # the mutations also produce valid files
