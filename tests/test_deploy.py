"""The scaled deployment's files: what can be checked without a Docker engine."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_services_volumes_and_health() -> None:
    spec = compose()
    services = spec["services"]
    assert set(services) == {"api", "worker", "postgres", "redis", "chroma", "ollama"}
    assert services["ollama"]["profiles"] == ["llm"]
    for name in ("worker", "postgres", "redis", "chroma", "ollama"):
        assert "healthcheck" in services[name], name
    assert services["worker"]["command"] == ["kotae", "worker"] and services["worker"]["deploy"]["replicas"] == 2
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert all(depends[s]["condition"] == "service_healthy" for s in ("postgres", "redis", "chroma"))
    used = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert used <= set(spec["volumes"])


def test_compose_configures_only_real_settings() -> None:
    env = compose()["services"]["api"]["environment"]
    fields = set(Settings.model_fields)
    for key in env:
        assert key.startswith("KOTAE_") and key.removeprefix("KOTAE_").lower() in fields, key

    def interpolate(value: str) -> str:  # what compose substitutes when the variable is unset
        return re.sub(r"\$\{[A-Z_]+(?::-([^}]*))?[^}]*\}", lambda m: m.group(1) or "x", value)

    settings = Settings(**{k.removeprefix("KOTAE_").lower(): interpolate(str(v)) for k, v in env.items()})
    assert settings.vector_store == "chroma_http" and settings.queue_url == "redis://redis:6379/0"


def test_dockerfile_installs_at_build_time_only() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in text and 'pip install ".[postgres]"' in text
    assert "HF_HUB_OFFLINE=1" in text  # nothing reaches for a hub at run time


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed here (no Docker engine either)")
    result = subprocess.run(
        [docker, "compose", "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"KOTAE_SECRET_KEY": "test", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
