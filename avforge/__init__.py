"""avforge: audio-visual temporal forgery localization."""

__version__ = "0.1.0"
