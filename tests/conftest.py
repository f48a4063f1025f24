import os

import torch

# No hub access anywhere: make transformers fail fast instead of retrying for ~20 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests run two at a time (pytest -n 2) on 2 cores: one torch thread each avoids oversubscription.
torch.set_num_threads(1)
