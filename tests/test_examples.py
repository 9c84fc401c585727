"""The example scripts run as the README says and print what they promise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_adam_l2_example_prints_three_held_out_scores_and_tuning_helps() -> None:
    proc = subprocess.run(
        [sys.executable, "examples/adam_l2.py"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    scores = [float(m) for m in re.findall(r"^  \S.*?\s(-?\d+\.\d{3})$", proc.stdout, flags=re.M)]
    assert len(scores) == 3, proc.stdout
    no_penalty, untuned, tuned = scores
    assert tuned > max(no_penalty, untuned), proc.stdout
