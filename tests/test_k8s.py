"""Static checks of deploy/k8s: every Kubernetes object against the Kubernetes schemas
(kubernetes-validate, pinned, offline), KEDA's ScaledObjects against KEDA's own CRD schema,
and the facts the manifests share with the code (queues, settings, lanes, probes).

No cluster runs here: this proves the manifests are well formed and agree with nutgraf,
not that a cluster schedules them or that KEDA reads the queues it is pointed at.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from test_containers import cli_subcommands

from nutgraf.settings import Settings
from service.server import gunicorn_options
from worker.app import QUEUES

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
# The oldest Kubernetes still supported upstream when this was written; the manifests use
# nothing newer (policy/v1 PodDisruptionBudget is 1.21+).
KUBERNETES = "1.33"
# KEDA's CRD as kedacore/keda ships it (config/crd/bases/, Apache-2.0), at commit 8b4f083
# (v2.20.1 and 117 commits).
KEDA_CRD = ROOT / "tests" / "data" / "keda" / "keda.sh_scaledobjects.yaml"
# What each trigger type reads from `metadata` (kedacore/keda pkg/scalers/*_scaler.go, the
# `keda:"name=…"` tags; `xFromEnv` reads x from the target container's environment).
TRIGGER_METADATA = {
    "redis": {
        "address",
        "addressFromEnv",
        "host",
        "port",
        "listName",
        "listLength",
        "activationListLength",
        "databaseIndex",
        "enableTLS",
        "unsafeSsl",
    },
    "rabbitmq": {
        "host",
        "hostFromEnv",
        "protocol",
        "queueName",
        "mode",
        "value",
        "activationValue",
        "vhostName",
        "useRegex",
        "excludeUnacknowledged",
        "pageSize",
        "operation",
        "timeout",
        "unsafeSsl",
    },
    "prometheus": {
        "serverAddress",
        "query",
        "queryParameters",
        "threshold",
        "activationThreshold",
        "namespace",
        "customHeaders",
        "ignoreNullValues",
        "unsafeSsl",
        "timeout",
    },
}
TRIGGER_REQUIRED = {
    "redis": {"listName"},
    "rabbitmq": {"queueName", "mode", "value"},
    "prometheus": {"serverAddress", "query", "threshold"},
}


def documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of one manifest file, empty ones dropped."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization() -> dict[str, Any]:
    """deploy/k8s/kustomization.yaml."""
    data = documents(K8S / "kustomization.yaml")[0]
    assert data["kind"] == "Kustomization"
    return data


@cache
def objects() -> dict[tuple[str, str], dict[str, Any]]:
    """Every object of the base (kustomization's resources), by (kind, name)."""
    found = {}
    for name in kustomization()["resources"]:
        for doc in documents(K8S / name):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def scaled_objects(broker: str) -> list[dict[str, Any]]:
    """The ScaledObjects of keda-<broker>.yaml."""
    docs = documents(K8S / f"keda-{broker}.yaml")
    assert {doc["kind"] for doc in docs} == {"ScaledObject"}
    return docs


def deployment(component: str) -> dict[str, Any]:
    """The Deployment nutgraf-<component>."""
    return objects()[("Deployment", f"nutgraf-{component}")]


def container(component: str) -> dict[str, Any]:
    """The one container of Deployment nutgraf-<component>."""
    (only,) = deployment(component)["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists the fields, as kubectl's
    strict field validation does (a CRD schema itself only prunes them)."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [strict(item) for item in schema]
    return schema


@cache
def keda_schema() -> dict[str, Any]:
    """The ScaledObject schema (keda.sh/v1alpha1) of KEDA's CRD, made strict."""
    crd = documents(KEDA_CRD)[0]
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: Kubernetes' own
    result = strict(schema)
    assert isinstance(result, dict)
    return result


def test_the_kustomization_lists_every_base_manifest() -> None:
    """Everything in deploy/k8s is in the base, except the two broker-specific KEDA files."""
    listed = set(kustomization()["resources"])
    on_disk = {path.name for path in K8S.glob("*.yaml")}
    assert listed <= on_disk
    assert on_disk - listed == {"kustomization.yaml", "keda-redis.yaml", "keda-rabbitmq.yaml"}


@pytest.mark.parametrize(
    "path",
    sorted(set(K8S.glob("*.yaml")) - {K8S / "kustomization.yaml"} - set(K8S.glob("keda-*"))),
    ids=lambda p: p.name,
)
def test_each_object_is_valid_against_the_kubernetes_schema(path: Path) -> None:
    """kubernetes-validate, strict: a misspelt or misplaced field fails too."""
    for doc in documents(path):
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_validator_refuses_a_misspelt_field() -> None:
    """The check above has teeth."""
    bad = copy.deepcopy(deployment("api"))
    bad["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES, strict=True)


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_scaled_objects_are_valid_against_kedas_crd(broker: str) -> None:
    """Each ScaledObject against KEDA's own schema; the trigger metadata (a free map there)
    against what each scaler reads."""
    for scaled in scaled_objects(broker):
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        jsonschema.validate(scaled, keda_schema())
        for trigger in scaled["spec"]["triggers"]:
            metadata = trigger["metadata"]
            kind = trigger["type"]
            assert set(metadata) <= TRIGGER_METADATA[kind], (kind, metadata)
            assert TRIGGER_REQUIRED[kind] <= set(metadata), (kind, metadata)
            assert all(isinstance(value, str) for value in metadata.values()), metadata


def test_the_keda_schema_check_has_teeth() -> None:
    scaled = copy.deepcopy(scaled_objects("redis")[0])
    scaled["spec"]["minReplicas"] = 1  # minReplicaCount, misspelt
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, keda_schema())


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_each_worker_deployment_scales_on_its_own_lane(broker: str) -> None:
    """One ScaledObject per worker Deployment, on its lane's broker queue and depth."""
    scaled = {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in scaled_objects(broker)}
    assert set(scaled) == {f"nutgraf-worker-{lane}" for lane in QUEUES}
    for lane, queue in QUEUES.items():
        spec = scaled[f"nutgraf-worker-{lane}"]["spec"]
        assert ("Deployment", spec["scaleTargetRef"]["name"]) in objects()
        triggers = {trigger["type"]: trigger["metadata"] for trigger in spec["triggers"]}
        assert set(triggers) == {broker, "prometheus"}
        if broker == "redis":
            # Celery's Redis transport keeps a queue's messages in a list of its name.
            assert triggers["redis"]["listName"] == queue
        else:
            assert triggers["rabbitmq"]["queueName"] == queue
            assert triggers["rabbitmq"]["mode"] == "QueueLength"
        assert f'lane="{lane}"' in triggers["prometheus"]["query"]
        assert "nutgraf_lane_queue_depth" in triggers["prometheus"]["query"]
    # An editor's job never waits for a cold start, and /readyz needs a worker.
    assert scaled["nutgraf-worker-interactive"]["spec"]["minReplicaCount"] >= 1
    assert scaled["nutgraf-worker-bulk"]["spec"]["minReplicaCount"] == 0


def test_the_brokers_reached_are_the_ones_nutgraf_uses() -> None:
    """KEDA's Redis is NUTGRAF_REDIS_URL's host, port and database; its RabbitMQ is the
    worker's own NUTGRAF_BROKER_URL."""
    url = urlsplit(objects()[("ConfigMap", "nutgraf")]["data"]["NUTGRAF_REDIS_URL"])
    for scaled in scaled_objects("redis"):
        (redis,) = [t["metadata"] for t in scaled["spec"]["triggers"] if t["type"] == "redis"]
        assert redis["address"] == f"{url.hostname}:{url.port}"
        assert redis["databaseIndex"] == url.path.strip("/")
    for scaled in scaled_objects("rabbitmq"):
        (rabbit,) = [t["metadata"] for t in scaled["spec"]["triggers"] if t["type"] == "rabbitmq"]
        assert rabbit["hostFromEnv"] == "NUTGRAF_BROKER_URL"


def test_the_config_map_holds_real_settings() -> None:
    """Each NUTGRAF_* key is a setting, and together they pass Settings' validation."""
    data = objects()[("ConfigMap", "nutgraf")]["data"]
    known = {f"NUTGRAF_{field.upper()}" for field in Settings.model_fields}
    assert set(data) <= known, sorted(set(data) - known)
    Settings(**{key.removeprefix("NUTGRAF_").lower(): value for key, value in data.items()})


def test_the_api_has_a_service_and_probes_on_healthz_and_readyz() -> None:
    api = container("api")
    assert api["args"][:2] == ["nutgraf", "api"] and api["args"][1] in cli_subcommands()
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    (port,) = api["ports"]
    assert port["containerPort"] == Settings.model_fields["port"].default
    service = objects()[("Service", "nutgraf-api")]
    pod_labels = deployment("api")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("lane", list(QUEUES))
def test_a_worker_deployment_per_lane_with_the_model_cache_on_a_volume(lane: str) -> None:
    worker = container(f"worker-{lane}")
    assert worker["args"] == ["nutgraf", "worker"]
    env = {item["name"]: item.get("value") for item in worker["env"]}
    assert env["NUTGRAF_WORKER_LANES"] == lane
    (mount,) = worker["volumeMounts"]
    for variable in ("NUTGRAF_CACHE_DIR", "HF_HOME"):
        assert Path(env[variable]).is_relative_to(mount["mountPath"]), variable
    spec = deployment(f"worker-{lane}")["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    claim = volume["persistentVolumeClaim"]["claimName"]
    assert ("PersistentVolumeClaim", claim) in objects()
    # Time to finish a micro-batch on SIGTERM (docs/deploying.md).
    assert spec["terminationGracePeriodSeconds"] >= 60


def test_the_api_pods_grace_period_covers_its_drain_and_requests_in_flight() -> None:
    env = {item["name"]: item.get("value") for item in container("api")["env"]}
    drain = Settings.model_validate({"drain_s": env["NUTGRAF_DRAIN_S"]}).drain_s
    graceful = gunicorn_options(Settings())["graceful_timeout"]
    spec = deployment("api")["spec"]["template"]["spec"]
    assert "lifecycle" not in container("api"), "the drain is the API's own (NUTGRAF_DRAIN_S)"
    assert spec["terminationGracePeriodSeconds"] > drain + graceful


def test_every_deployment_has_a_disruption_budget() -> None:
    budgets = [doc for (kind, _), doc in objects().items() if kind == "PodDisruptionBudget"]
    for (kind, name), doc in objects().items():
        if kind != "Deployment":
            continue
        labels = doc["spec"]["template"]["metadata"]["labels"]
        matching = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(matching) == 1, name
        if name == "nutgraf-api":  # minAvailable 1 with 2 replicas: a drain can proceed
            assert doc["spec"]["replicas"] > matching[0]["spec"]["minAvailable"]
