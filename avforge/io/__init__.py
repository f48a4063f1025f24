"""avforge.io: media reading on one clock (``read_av``, ``iter_windows``, ``probe``) and mouth crops."""
from avforge.io.media import AVClip, AVReader, MediaInfo, iter_windows, probe, read_av
from avforge.io.mouth import crop_mouth

__all__ = ["AVClip", "AVReader", "MediaInfo", "crop_mouth", "iter_windows", "probe", "read_av"]
