"""The fuzz corpus's size: how many generated bad inputs this session ran, per kind.

:data:`fuzzing.CASES` counts every case :func:`fuzzing.run_cli` ran. The check runs at the very end
of the session (the teardown of a session fixture, so after every other fuzz file, whatever the file
order) and only when the whole ``tests/fuzz`` folder was selected (every file of it collected, no
``-k``): then the default suite must have run at least :data:`MIN_CASES` cases (issue 15's
">= 2,000-case generated corpus"). The per-kind counts are printed either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import fuzzing

MIN_CASES = 2000
HERE = Path(__file__).resolve().parent


def _whole_folder(session) -> bool:
    if session.config.option.keyword:
        return False
    selected = {Path(str(item.fspath)).resolve() for item in session.items}
    return all(path.resolve() in selected for path in HERE.glob("test_*.py"))


@pytest.fixture(scope="session")
def corpus(request):
    yield
    counts = dict(sorted(fuzzing.CASES.items()))
    total = sum(counts.values())
    print(f"\nfuzz corpus: {total:,} cases: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if _whole_folder(request.session):
        assert total >= MIN_CASES, f"the fuzz suite ran {total:,} cases, below {MIN_CASES:,}: {counts!r}"


def test_corpus_is_counted_at_session_end(corpus, request):
    """Registers the end-of-session check; the folder's files are what it will judge."""
    assert {p.name for p in HERE.glob("test_*.py")} >= {"test_cli.py", "test_outputs.py", "test_corpus.py"}
