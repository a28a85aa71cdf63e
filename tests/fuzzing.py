"""The fuzz suite's harness: run the ``neurosim`` command in-process on one bad input and judge the outcome.

Every fuzz test (tests/fuzz/) generates bad inputs with hypothesis and hands each to :func:`run_cli`,
then to :func:`assert_clean_error` (bad input) or :func:`assert_ok` (valid input). The verdicts, per
the hostile-input contract (issue 15):

- a bad input exits non-zero (2 for a :class:`~neurosim.errors.NeurosimError` or an argparse usage
  error) with **one** line on stderr that names the file / node / field / flag and says the fix;
- no traceback, ever; an exception that escapes ``main`` or reaches the CLI's internal-error handler
  (exit 70, "internal error") fails the case -- the handler is the user's safety net, not the fuzz
  suite's;
- no hang: each case runs under a wall-clock alarm;
- exit 0 only for valid input.

:data:`CASES` counts the cases each kind ran (the suite's corpus size is reported by
``tests/fuzz/test_corpus.py``).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import signal
import traceback
from dataclasses import dataclass

#: cases run per input kind in this process (kind -> count)
CASES: collections.Counter = collections.Counter()


class Hang(Exception):
    """A case ran past its wall-clock limit."""


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    escaped: str | None  # the traceback of an exception that escaped main(), else None

    @property
    def internal(self) -> bool:
        return self.code == 70 or "internal error" in self.stderr.lower()


@contextlib.contextmanager
def _alarm(seconds: float):
    def _raise(signum, frame):
        raise Hang(f"case ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_cli(argv: list[str], *, kind: str, timeout_s: float = 60.0) -> Outcome:
    """``neurosim *argv`` in this process; stdout/stderr captured, exceptions caught and recorded."""
    from neurosim.cli import main

    CASES[kind] += 1
    out, err = io.StringIO(), io.StringIO()
    escaped = None
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with _alarm(timeout_s):
                code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        except Hang:
            raise
        except BaseException:  # noqa: BLE001 - anything that escapes main() is a finding
            escaped = traceback.format_exc()
            code = -1
    return Outcome(code, out.getvalue(), err.getvalue(), escaped)


def assert_clean_error(outcome: Outcome, *mentions: str, argv=None) -> None:
    """A bad input's verdict: non-zero exit, one stderr line naming what ``mentions`` list, no traceback."""
    where = f"\nargv: {argv!r}" if argv is not None else ""
    assert outcome.escaped is None, f"exception escaped main():\n{outcome.escaped}{where}"
    assert not outcome.internal, f"reached the internal-error handler:\n{outcome.stderr}{where}"
    assert "Traceback" not in outcome.stderr and "Traceback" not in outcome.stdout, f"traceback:\n{outcome.stderr}{where}"
    assert outcome.code != 0, f"exit 0 on bad input; stdout:\n{outcome.stdout[-2000:]}{where}"
    lines = [ln for ln in outcome.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error:" in ln]
    assert len(errors) == 1, f"expected one error line, found {len(errors)}:\n{outcome.stderr}{where}"
    line = errors[0]
    assert len(line) < 2000, f"error line of {len(line)} characters{where}"
    for m in mentions:
        assert m in line, f"error line does not mention {m!r}:\n{line}{where}"


def assert_ok(outcome: Outcome, argv=None) -> None:
    """A valid input's verdict: exit 0, no traceback."""
    where = f"\nargv: {argv!r}" if argv is not None else ""
    assert outcome.escaped is None, f"exception escaped main():\n{outcome.escaped}{where}"
    assert outcome.code == 0, f"exit {outcome.code} on valid input:\n{outcome.stderr}{where}"


def leaf_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """``(command words, parser)`` of every leaf command under ``parser`` (``neurosim.cli.build_parser()``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from leaf_parsers(sub, (*path, name))
            return
    yield path, parser
