"""The rule registry: stable ids, no values in templates, generated docs, and every rule tested."""

from __future__ import annotations

import re
from pathlib import Path

from cscvault.formats.rules import RULES, SEVERITIES, all_rules
from cscvault.ingest.rules_doc import render, write

TESTS = Path(__file__).resolve().parents[2]
ID_SHAPE = re.compile(r"^[A-Z]+-\d{3}$")


def test_ids_are_unique_and_well_formed():
    ids = [r.id for r in all_rules()]
    assert len(ids) == len(set(ids)) == len(RULES)
    assert all(ID_SHAPE.match(i) for i in ids)
    assert all(r.severity in SEVERITIES for r in all_rules())


def test_templates_name_structure_only():
    allowed = {
        "field",
        "table",
        "column",
        "kind",
        "encoding",
        "line",
        "where",
        "return_kind",
        "n_cells",
        "n_header",
        "element",
        "year",
        "reading",
    }
    for r in all_rules():
        assert r.params <= allowed, (r.id, r.params - allowed)
        assert "value" not in r.params


def test_every_rule_has_docs_and_appears_in_docs_md(tmp_path):
    text = render()
    for r in all_rules():
        assert len(r.doc.strip()) >= 15, f"{r.id} lacks a docs line"
        assert f"`{r.id}`" in text
    out = write(tmp_path / "rules.md")
    assert out.read_text() == text


def test_committed_docs_are_current():
    docs = TESTS.parent / "docs" / "rules.md"
    assert docs.exists(), "run: python -m cscvault.ingest.rules_doc"
    assert docs.read_text() == render(), "docs/rules.md is stale: run python -m cscvault.ingest.rules_doc"


def test_every_rule_is_exercised_by_a_test():
    me = Path(__file__).resolve()
    corpus = "\n".join(
        p.read_text(encoding="utf-8", errors="replace") for p in TESTS.rglob("*.py") if p.resolve() != me
    )
    missing = [r.id for r in all_rules() if f'"{r.id}"' not in corpus]
    assert not missing, f"rules without a test: {missing}"
