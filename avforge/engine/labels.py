"""Ground truth for plots of ``avforge infer``: the record of a video found by its path."""
from __future__ import annotations

from pathlib import Path

from avforge.core.errors import AvforgeError
from avforge.core.types import VideoRecord
from avforge.data import METADATA_NAMES, load_avdeepfake1m, load_lavdf, read_manifest
from avforge.data.manifest import manifest_entries


class Labels:
    """Ground truth by video: from a manifest (``.jsonl``), a LAV-DF ``metadata[.min].json`` or an
    AV-Deepfake1M ``{split}_metadata.json`` lying in its dataset root."""

    def __init__(self, path):
        path = Path(path)
        if not path.is_file():
            raise AvforgeError("labels file not found", path=path)
        if path.suffix == ".jsonl":
            pairs = [(e.path, e.record) for e in read_manifest(path)]
        else:
            if path.name in METADATA_NAMES:
                records = load_lavdf(path.parent)
            elif path.name.endswith("_metadata.json"):
                records = load_avdeepfake1m(path.parent, path.name[: -len("_metadata.json")])
            else:
                raise AvforgeError("labels must be a manifest (.jsonl), LAV-DF metadata.json or AV-Deepfake1M "
                                   "{split}_metadata.json", path=path)
            pairs = [(e.path, e.record) for e in manifest_entries(records, path.parent)]
        self.by_path = {str(Path(p).resolve()): r for p, r in pairs}
        self.by_key = {Path(r.file).as_posix(): r for _, r in pairs}

    def find(self, video) -> VideoRecord | None:
        """The record of ``video``: the same file on disk, else the record whose key is the
        longest tail of the video's path (``test/000001.mp4`` matches ``/x/test/000001.mp4``)."""
        real = Path(video).resolve()
        if str(real) in self.by_path:
            return self.by_path[str(real)]
        for i in range(len(real.parts) - 1):
            record = self.by_key.get(Path(*real.parts[i + 1:]).as_posix())
            if record is not None:
                return record
        return None
