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
TABLE_PATH = ROOT / "references" / "answers.md"
CONTRACT_PATH = ROOT / "scripts" / "agentos_sessions" / "contract.py"
TABLE_INTRO = """# Every answer, by kind

Generated from `scripts/agentos_sessions/contract.py` by `tests/schema_tools.py`, like the JSON
Schema beside it (`answers.schema.json`); the tests validate real answers against both.
Keys in *italics* are there only sometimes (when: in brackets). In default answers a key
AgentOS has no value for is left out; with `--fields` every asked-for key is present (null
when it has no value). Exit codes: 0; 1 refused or changed by another writer; 3 not found.
"""
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


def field_comments() -> dict[tuple[str, str], str]:
    """The trailing comment of each field line in contract.py: when an optional key is there."""
    import ast
    import tokenize

    source = CONTRACT_PATH.read_text()
    comments = {
        token.start[0]: token.string.lstrip("# ").strip()
        for token in tokenize.generate_tokens(iter(source.splitlines(keepends=True)).__next__)
        if token.type == tokenize.COMMENT
    }
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                named = isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                if named and item.lineno in comments:
                    found[(node.name, item.target.id)] = comments[item.lineno]
    return found


def keys_text(schema: dict[str, Any], kind: str, comments: dict[tuple[str, str], str]) -> str:
    """An answer's keys, from its schema: required ones plain, optional ones in italics with when."""
    answer = schema["answers"][kind]
    if answer.get("type") == "array":
        return "a JSON list of `" + answer["items"]["$ref"].rsplit("/", 1)[1] + "`"
    if "$ref" not in answer:
        return "any JSON object"
    name = answer["$ref"].rsplit("/", 1)[1]
    definition = schema["$defs"][name]
    parts = []
    for key in definition["properties"]:
        when = next((text for (owner, field), text in comments.items() if field == key and owner == name), "")
        when = when or next((text for (_owner, field), text in comments.items() if field == key), "")
        required = key in definition.get("required", [])
        shown = f"`{key}`" + item_type(definition["properties"][key])
        parts.append(shown if required else f"*{shown}*" + (f" ({when})" if when else ""))
    return ", ".join(parts)


def item_type(prop: dict[str, Any]) -> str:
    """': [Session]' for a list of a defined object, '' otherwise."""
    ref = (prop.get("items") or {}).get("$ref") or next(
        ((option.get("items") or {}).get("$ref") for option in prop.get("anyOf", []) if option.get("items")), None
    )
    return f" [{ref.rsplit('/', 1)[1]}]" if ref else ""


def table_text() -> str:
    """references/answers.md: one row per answer kind, the command that prints it and its keys."""
    from agentos_sessions.contract import ANSWERS, PRINTED_BY

    comments, schema = field_comments(), build_schema()
    rows = [f"| `{kind}` | {PRINTED_BY[kind]} | {keys_text(schema, kind, comments)} |" for kind in ANSWERS]
    return TABLE_INTRO + "\n| Answer | Printed by | Keys |\n|---|---|---|\n" + "\n".join(rows) + "\n"


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=True) + "\n"


def validator(kind: str) -> Any:
    """A jsonschema validator for one answer kind, from the checked-in file."""
    import jsonschema

    document = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator({**document["answers"][kind], "$defs": document["$defs"]})


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text())
    TABLE_PATH.write_text(table_text())
    print(f"wrote {SCHEMA_PATH.relative_to(ROOT)} and {TABLE_PATH.relative_to(ROOT)}")
