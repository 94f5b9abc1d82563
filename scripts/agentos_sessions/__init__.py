"""agentos_sessions: the package behind scripts/manage_sessions.py.

Modules, each using only those below it (checked by import-linter):
cli → output → actions (sessions, deletion, backup, chat) → request → selection → api
→ render → model → errors.
"""
