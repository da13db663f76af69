"""The worked guard example in policy/README.md works as written, through both workflows."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from flask.testing import FlaskClient

from tests.support.processes import ROOT, tool

README = (ROOT / "policy" / "README.md").read_text()


def rego_block(package: str) -> str:
    """The README's ```rego block declaring `package`."""
    for block in re.findall(r"```rego\n(.*?)```", README, flags=re.DOTALL):
        if block.startswith(f"package {package}\n"):
            return str(block)
    raise AssertionError(f"no rego block for {package} in policy/README.md")


def served_by_gemini(client: FlaskClient) -> bool:
    body = client.post("/route/plan", json={"task": "pii", "loa": 0}).get_json()
    return "hosted/gemini-1.5-pro" in body["decision"]["eligible"]


def test_the_worked_example_ships_through_the_api(client: FlaskClient) -> None:
    assert served_by_gemini(client)
    response = client.put(
        "/policy/guards/pii",
        json={
            "source": rego_block("symphony.guards.pii"),
            "tests": {"pii_test": rego_block("guard_tests.pii_test")},
        },
        headers={"If-Match": client.get("/policy").get_json()["etag"]},
    )
    assert response.status_code == 200, response.get_json()
    assert not served_by_gemini(client)


def test_the_worked_example_ships_as_a_ci_bundle(client: FlaskClient, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "guards").mkdir(parents=True)
    (bundle / "tests").mkdir()
    (bundle / "guards" / "pii.rego").write_text(rego_block("symphony.guards.pii"))
    (bundle / "tests" / "pii_test.rego").write_text(rego_block("guard_tests.pii_test"))
    # The CI's own check, then the build, as the README shows them.
    subprocess.run([tool("opa"), "test", str(bundle), str(ROOT / "policy" / "rego")], check=True)
    out = tmp_path / "bundle.tar.gz"
    subprocess.run([tool("opa"), "build", "-b", str(bundle), "-o", str(out)], check=True)
    response = client.post(
        "/policy/bundle",
        data=out.read_bytes(),
        content_type="application/gzip",
        headers={"If-Match": client.get("/policy").get_json()["etag"]},
    )
    assert response.status_code == 200, response.get_json()
    assert sorted(response.get_json()["guards"]) == ["pii"]
    assert not served_by_gemini(client)


def test_the_team_guard_routes_research_keys_to_local_models(client: FlaskClient) -> None:
    """input.client end to end: the key's team reaches the real OPA and a guard decides on it."""
    admin = client.post("/keys", json={"name": "lab", "roles": ["client"], "team": "research"})
    lab = {"Authorization": f"Bearer {admin.get_json()['key']}"}
    ask = {"task": "qa", "loa": 1}
    assert client.post("/route/plan", json=ask, headers=lab).get_json()["decision"]["model"] != (
        "local/smollm2"
    )
    response = client.put(
        "/policy/guards/team_research",
        data=rego_block("symphony.guards.team_research"),
        content_type="text/plain",
        headers={"If-Match": client.get("/policy").get_json()["etag"]},
    )
    assert response.status_code == 200, response.get_json()
    decided = client.post("/route/plan", json=ask, headers=lab).get_json()["decision"]
    assert decided["model"] == "local/smollm2"
    assert {
        "model": "hosted/gemini-1.5-pro",
        "reason": "team_local_only",
        "detail": "team research may use local models only",
    } in decided["reasons"]
    # The admin key has no team: the same request still goes to a hosted model.
    assert client.post("/route/plan", json=ask).get_json()["decision"]["model"] != "local/smollm2"
