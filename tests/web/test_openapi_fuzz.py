"""schemathesis over the console's own OpenAPI document: no generated request makes the server fail (5xx).

Each operation is called signed in as admin when admin may use it, otherwise as a role that may (so that
the DPO's and checker's forms are exercised past the role guard); POSTs carry the session's CSRF token.
The fuzzing runs on a copy of the test vault, so what it changes touches no other test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from cscvault.web.app import create_app
from cscvault.web.auth import SESSION_COOKIE
from tests.web.support import USERS, WebVault, login

# The schema does not depend on the vault: build it from an app over a path that is never opened.
_SCHEMA_DOC = create_app(Path("/nonexistent-vault")).openapi()
_QUICK = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
# Signing out would end the run's sessions, so /logout is left out.
quick_schema = schemathesis.openapi.from_dict(_SCHEMA_DOC, config=_QUICK).exclude(path="/logout")
full_schema = schemathesis.openapi.from_dict(_SCHEMA_DOC).exclude(path="/logout")


@pytest.fixture(scope="module")
def fuzz_target(web_vault: WebVault, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    copy = tmp_path_factory.mktemp("fuzz") / "v"
    shutil.copytree(web_vault.path, copy)
    app = create_app(copy, report_dir=web_vault.report_dir)
    sessions = {}
    for role, creds in USERS.items():
        client = TestClient(app, base_url="http://127.0.0.1")
        csrf = login(client, creds)
        sessions[role] = (client.cookies.get(SESSION_COOKIE), csrf)
    return app, sessions


def _check(case, fuzz_target) -> None:  # type: ignore[no-untyped-def]
    app, sessions = fuzz_target
    roles = case.operation.definition.raw.get("x-roles") or ["admin"]
    role = "admin" if "admin" in roles else roles[0]
    cookie, csrf = sessions[role]
    if case.method.upper() == "POST" and isinstance(case.body, dict) and case.path != "/login":
        case.body = {**case.body, "csrf_token": csrf}
    response = case.call(app=app, cookies={SESSION_COOKIE: cookie}, allow_redirects=False)
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:300])


@quick_schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case, fuzz_target) -> None:  # type: ignore[no-untyped-def]
    """Random valid and invalid requests per operation (schemathesis' fuzzing phase)."""
    _check(case, fuzz_target)


@pytest.mark.slow
@full_schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_with_boundary_cases(case, fuzz_target) -> None:  # type: ignore[no-untyped-def]
    """Adds schemathesis' coverage phase (boundary values, wrong types, unexpected methods) and more examples."""
    _check(case, fuzz_target)
