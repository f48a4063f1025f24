"""The seeded synthetic AV-forgery benchmark (``avforge synth``): espeak-ng speech, a rendered talking face, word-level forgeries, written in the LAV-DF or AV-Deepfake1M layout."""
