"""Exit codes of the ``codec`` command, the same for every subcommand.

| code | meaning |
| ---- | ------- |
| 0    | success |
| 1    | internal error: a bug; rerun with ``--debug`` and report the traceback |
| 2    | usage error: unknown option, missing argument, contradictory options |
| 3    | bad input: unreadable, unsupported, corrupt or truncated input file |
| 4    | output error: output exists (without ``-y``) or cannot be written |
| 130  | interrupted (Ctrl-C) |
"""

from __future__ import annotations

OK = 0
INTERNAL_ERROR = 1
USAGE_ERROR = 2
BAD_INPUT = 3
OUTPUT_ERROR = 4
INTERRUPTED = 130
