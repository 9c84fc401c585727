"""``python -m regtune``."""

from regtune.cli import run

run()
