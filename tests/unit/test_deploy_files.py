"""The container file, the compose file and the lock agree with each other and with the
configuration the service reads (no image is built and nothing is pulled here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_every_runtime_dependency_is_pinned_in_the_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _locked()
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name).lower() in pins, name
    assert "pytest" not in pins and "mypy" not in pins  # test tools stay out of the image


def test_the_image_is_slim_unprivileged_and_built_from_the_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM python:3.11-slim") == 2
    assert "-r /tmp/requirements.lock" in dockerfile and "--no-deps" in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert 'ENTRYPOINT ["checkout"]' in dockerfile


def test_app_and_worker_run_the_same_image_with_secrets_from_files() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"app", "worker", "db", "migrate"} <= set(services)
    images = {services[name]["image"] for name in ("app", "worker", "migrate")}
    assert images == {"headless-checkout:latest"}
    assert services["app"]["command"] == ["serve"]
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    declared = set(compose["secrets"])
    for name in ("app", "worker", "migrate"):
        service = services[name]
        env: dict[str, str] = service["environment"]
        assert env["CHECKOUT_ENV"] == "production"
        mounted = {f"/run/secrets/{s}" for s in service["secrets"]}
        assert set(service["secrets"]) <= declared
        for variable, value in env.items():
            if variable.endswith(("_FILE", "_TLS_CERT", "_TLS_KEY")):
                assert value in mounted, (name, variable)
            # No secret is written into the compose file itself.
            assert not re.search(r"sk_live|sk_test|whsec_|password=", str(value)), variable
        assert "DATABASE_URL" not in env and "CHECKOUT_SECRET_KEY" not in env


def test_only_the_public_listener_is_published_and_the_database_is_internal() -> None:
    compose = _compose()
    services = compose["services"]
    assert services["app"]["ports"] == ["443:8000"]
    for name in ("worker", "db", "migrate"):
        assert "ports" not in services[name]
    assert compose["networks"]["backend"]["internal"] is True
    assert services["db"]["networks"] == ["backend"]
