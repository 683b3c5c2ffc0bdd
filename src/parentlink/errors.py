"""Errors a user can cause (bad files, bad config) and how rule scripts report them."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NoReturn, TypeVar

T = TypeVar("T")


class UserError(Exception):
    """A problem with the user's input or config: one sentence naming the file/variable/key and the fix.

    Rule scripts catch it, print the message without a traceback and exit non-zero.
    """


def fail(message: str) -> NoReturn:
    raise UserError(message)


def run_stage(main: Callable[[], T], outputs: Iterable[str | Path] = ()) -> T:
    """Run a rule script's body; on UserError remove any outputs written so far and exit 1."""
    try:
        return main()
    except UserError as err:
        for out in outputs:
            p = Path(out)
            if p.is_file():
                p.unlink()
        print(f"ERROR: {err}", file=sys.stderr)
        if sys.stderr is not sys.__stderr__ and sys.__stderr__ is not None:
            # The script sent stderr to its log: say it on the console too, not only "see log".
            print(f"ERROR: {err}", file=sys.__stderr__)
        raise SystemExit(1) from None


def logged_stage(main: Callable[[], T], outputs: Iterable[str | Path], log: str | Path) -> T:
    """run_stage with the job's log holding what went wrong: warnings logged by the stage, the
    ERROR line (also shown on the console), and for an unexpected failure its traceback."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    before = sys.stderr
    with open(log, "w", encoding="utf-8") as fh:
        sys.stderr = fh
        logging.basicConfig(stream=fh, level=logging.INFO, force=True)
        try:
            return run_stage(main, outputs)
        except Exception:
            traceback.print_exc(file=fh)
            raise
        finally:
            logging.basicConfig(stream=before, force=True)
            sys.stderr = before
