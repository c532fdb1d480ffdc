"""Every rule's message renders from structural parameters only and stays one line.

The delivery-time rules (LINK-010..LINK-013, raised by cscvault.ingest.delivery when loading into
the vault) are rendered here; their loading behaviour is tested with the vault."""

from __future__ import annotations

import pytest

from cscvault.formats.rules import all_rules, rule

PARAMS = {
    "field": "gender",
    "table": "children",
    "column": "Surname",
    "kind": "a name",
    "encoding": "Latin-1",
    "line": 3,
    "where": "DR2",
    "return_kind": "DR2",
    "n_cells": 3,
    "n_header": 4,
    "element": "Sex",
    "year": "2024/25",
    "reading": "day first",
}


@pytest.mark.parametrize("rule_id", ["LINK-010", "LINK-011", "LINK-012", "LINK-013"])
def test_delivery_rules_render(rule_id):
    message = rule(rule_id).message(**PARAMS)
    assert "{" not in message and "\n" not in message


def test_all_templates_render_and_refuse_missing_params():
    for r in all_rules():
        text = r.message(**PARAMS)
        assert "{" not in text and "\n" not in text
        if r.params:
            with pytest.raises(KeyError):
                r.message()
