"""Shared by the Phi-3 tests: one intra-op thread while they run.

Their models are tiny: a second thread only adds synchronisation, which on a busy machine costs
more than the work itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
