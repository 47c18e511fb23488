"""Where test material lives: the repository's seeds, tests/data, and the shared corpora beside the
repository (present on the development machine, perhaps not elsewhere: tests that need them carry
``@pytest.mark.corpus("name")`` and are skipped, with the reason, when the folder is absent)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
DATA = REPO / "tests" / "data"
CORPORA = REPO.parent / "shared" / "corpora"
