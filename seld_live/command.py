"""The one error wrapper and exit-status policy of every command (seld-live, -synth, -train, -eval, -bank).

    0    success (for seld-live also: the window was closed)
    1    an error the user can fix: one ``PROG: error: ...`` line on stderr
    2    a usage error: options that do not go together (argparse's own errors exit 2 too), no display
    130  interrupted (Ctrl-C or SIGTERM): what was written so far is kept, and the line says where

A traceback means a bug in seld-live, never a mistake of the user's.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable

from seld_live.errors import SeldError, UsageError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def describe_os_error(e: OSError) -> str:
    """``PATH: no space left on device``: the file and the cause, as a person would say it."""
    cause = e.strerror or (os.strerror(e.errno) if e.errno else str(e)) or type(e).__name__
    if e.errno == errno.ENOSPC:
        cause = "no space left on device"
    cause = cause[:1].lower() + cause[1:]
    where = e.filename if e.filename is not None else ""
    return f"{where}: {cause}" if where else cause


def fail(prog: str, message: str) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)


def run_command(prog: str, body: Callable[[], int], interrupted: str | Callable[[], str] = "") -> int:
    """``body()``'s exit status, with the user's errors turned into one line and the policy's status."""
    try:
        return int(body())
    except UsageError as e:
        fail(prog, str(e))
        return EXIT_USAGE
    except SeldError as e:
        fail(prog, str(e))
        return EXIT_ERROR
    except OSError as e:  # an unwritable folder, a full disk: named, never a traceback
        fail(prog, describe_os_error(e))
        return EXIT_ERROR
    except KeyboardInterrupt:
        hint = interrupted() if callable(interrupted) else interrupted
        print(f"{prog}: interrupted{'; ' + hint if hint else ''}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
