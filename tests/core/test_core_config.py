from dataclasses import dataclass, field

import pytest

from avforge.core.config import from_dict, load_config, save_config
from avforge.core.errors import AvforgeError
from avforge.core.fileio import atomic_path, read_jsonl, write_jsonl


@dataclass
class Inner:
    lr: float = 1e-3
    steps: int = 10


@dataclass
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)
    levels: list[int] = field(default_factory=lambda: [1, 2])
    note: str | None = None


def test_from_dict_nested_and_coerces_int_to_float():
    cfg = from_dict(Outer, {"inner": {"lr": 1, "steps": 3}, "levels": [4]})
    assert cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float) and cfg.levels == [4]


@pytest.mark.parametrize("data,match", [({"bogus": 1}, "unknown key"), ({"inner": {"steps": 1.5}}, "integer"),
                                        ({"name": 3}, "expected str"), ({"levels": 3}, "list")])
def test_from_dict_rejects(data, match):
    with pytest.raises(AvforgeError, match=match):
        from_dict(Outer, data)


def test_yaml_round_trip_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    save_config(Outer(name="a"), path)
    cfg = load_config(Outer, path, overrides={"inner.steps": 7})
    assert cfg.name == "a" and cfg.inner.steps == 7
    path.write_text("inner: [1\n")
    with pytest.raises(AvforgeError, match="c.yaml: not valid YAML"):
        load_config(Outer, path)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    write_jsonl(target, [{"a": 1}, {"b": 2}])
    assert read_jsonl(target) == [{"a": 1}, {"b": 2}]


def test_unwritable_folder_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AvforgeError, match="cannot write here"):
        write_jsonl(blocker / "sub" / "x.jsonl", [])
