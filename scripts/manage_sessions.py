#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "agno[os]>=3.1,<3.2",
#     "httpx>=0.27",
#     "rich>=13",
# ]
#
# [tool.uv]
# # Byte-compile at install: imports stay fast where .pyc files cannot be written later.
# compile-bytecode = true
# ///
"""Manage conversation sessions on an agno AgentOS server.

    manage_sessions.py --base-url http://localhost:7777 --user-id alice@example.com
    manage_sessions.py --session-id abc-123 --show-runs --json
    manage_sessions.py --delete --agent-id researcher --before 2026-01-01 --dry-run

Exit codes: 0 ok, 1 server error or anything unexpected, 2 bad usage or bad input
(nothing sent), 3 not found, 4 authentication or authorization refused, 5 server
unreachable or timed out, 6 conflict, 130 interrupted, 141 stdout closed before the
result was written.
"""

import os
import sys

# Run by path (uv, a shebang, agno's skill runtime, runpy), the package beside this file
# must be importable whatever the working directory is.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from agentos_sessions.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
