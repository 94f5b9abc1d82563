"""Exit codes and the one error type: what every other module raises and `main` reports.

Nothing here imports httpx, rich or agno, so `--help` and usage errors stay fast.
"""

from __future__ import annotations

from enum import IntEnum

# typing costs --help about 2 ms and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


class ExitCode(IntEnum):
    """Process exit codes; documented in --help."""

    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    UNREACHABLE = 5
    CONFLICT = 6
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout left, as `yes | head -1` reports


class CliError(Exception):
    """An expected failure: one line for the user, a hint, and an exit code."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.ERROR, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hint = hint


def usage_error(message: str, hint: str = "see --help") -> NoReturn:
    """Raise the error for bad usage or bad input; nothing has been sent."""
    raise CliError(message, ExitCode.USAGE, hint)


def not_agentos(base_url: str, what: str) -> CliError:
    """The error for an answer that is not what AgentOS sends."""
    return CliError(
        f"{base_url} answered {what} with something AgentOS does not send",
        ExitCode.ERROR,
        "check that --base-url points at an AgentOS 3.1 server",
    )
