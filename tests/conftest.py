import numpy as np
import pytest
import torch

# The networks' per-call work is small: one intra-op thread is faster and keeps tests steady on a busy
# 2-core machine (a thread pool fighting other processes can be 40x slower).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    torch.manual_seed(0)
