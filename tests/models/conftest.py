import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Model tests use tiny tensors: one intra-op thread is ~10x faster than two on a busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
