"""agentos_sessions: the package behind scripts/manage_sessions.py.

Modules, each using only those below it (checked by import-linter, pyproject.toml):
cli → output → actions (sessions, updates, deletion, backup, chat, forking) → request, copying
→ selection → api | render | filters → model → errors.
"""
