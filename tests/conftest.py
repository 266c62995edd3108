import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("PYTHONHASHSEED", "0")


#: the files that take longest, in the order the workers start them (``pyproject.toml``
#: runs xdist with ``--no-loadscope-reorder``, which keeps this order; xdist's own puts
#: the files with most tests first, and the three-test paper-window file then started
#: last and ran alone for minutes). In the final suite run of 2026-12-07 (two workers) the
#: paper-window file's three tests took 256 s; the learning file's longest 72, 40 and 28 s,
#: the events file's two fixtures 60 and 32 s. Ordered by those durations, not tuned further.
LONGEST_FIRST = (
    "test_paper_window.py",
    "test_learning.py",
    "test_events.py",
    "test_readme.py",
    "test_faults.py",
    "test_classification.py",
    "test_calibration.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the longest files first, so the workers finish together."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
