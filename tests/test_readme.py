"""The README's Python blocks run as written (issue 13). Each runs in a fresh process in a
temporary folder; Lightning's own environment variables keep training short
(``PL_TRAINER_MAX_TIME``, ``PL_TRAINER_LIMIT_TRAIN_BATCHES``: Trainer defaults that the
code does not set), so the code is the README's, unchanged."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
SHORT = {
    "PL_TRAINER_MAX_TIME": "00:00:00:04",
    "PL_TRAINER_LIMIT_TRAIN_BATCHES": "2",
    "PL_TRAINER_LIMIT_VAL_BATCHES": "2",
    "MPLBACKEND": "Agg",
}


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path):
    code = BLOCKS[index]
    env = {**os.environ, **SHORT}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"block {index}:\n{code}\n{proc.stderr[-3000:]}"
