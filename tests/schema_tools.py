"""The answers' JSON Schema, generated from scripts/agentos_sessions/contract.py by pydantic.

`uv run python tests/schema_tools.py` rewrites references/answers.schema.json; tests/test_contract.py
fails while the checked-in file is stale, and validates real answers against it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "references" / "answers.schema.json"
sys.path.insert(0, str(ROOT / "scripts"))


def build_schema() -> dict[str, Any]:
    """One document: the shared definitions, and under `answers` the schema of each answer kind."""
    from agentos_sessions.contract import ANSWERS
    from pydantic import TypeAdapter

    inputs = [(kind, "serialization", TypeAdapter(definition)) for kind, definition in ANSWERS.items()]
    by_kind, shared = TypeAdapter.json_schemas(inputs, ref_template="#/$defs/{model}")
    definitions = shared.get("$defs", {})
    for definition in definitions.values():
        if "properties" in definition:  # every answer object is closed: a key it does not define is a bug
            definition["additionalProperties"] = False
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "agentos-api-sessions/answers",
        "title": "Every JSON answer of scripts/manage_sessions.py, by kind",
        "description": "Generated from scripts/agentos_sessions/contract.py by tests/schema_tools.py; do not edit.",
        "answers": {kind: by_kind[(kind, "serialization")] for kind in ANSWERS},
        "$defs": definitions,
    }


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=True) + "\n"


def validator(kind: str) -> Any:
    """A jsonschema validator for one answer kind, from the checked-in file."""
    import jsonschema

    document = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator({**document["answers"][kind], "$defs": document["$defs"]})


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text())
    print(f"wrote {SCHEMA_PATH.relative_to(ROOT)}")
