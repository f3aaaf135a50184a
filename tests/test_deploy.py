"""deploy/kubernetes/: every manifest valid against the Kubernetes schemas (offline, strict), and
consistent with what syncer itself does: exit codes, grace period, shard count, image; the
example overlays as kustomize renders them; the alerts as promtool reads them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from syncer.errors import EXIT_CONFIG, ConfigError, RunLocked
from syncer.pipeline import EXIT_EMPTY, EXIT_OVER_BUDGET
from syncer.settings import settings_from_env
from syncer.thresholds import Threshold

MANIFESTS = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
# The oldest release the manifests claim to support (backoffLimitPerIndex is GA in 1.33), and the newest known.
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")


# The Kubernetes kinds (the Prometheus Operator's are checked apart: no offline schema knows them).
PLAIN = ("base", "jobs")
EXAMPLES = ("overlays/example", "overlays/example/first-run", "overlays/example/sharded")
IMAGE = "registry.example.com/platform/syncer:0.2.0"


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for folder in PLAIN:
        for path in sorted((MANIFESTS / folder).rglob("*.yaml")):
            if path.name != "kustomization.yaml":
                docs += [(str(path.relative_to(MANIFESTS)), doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def _monitoring(kind: str) -> dict[str, Any]:
    (doc,) = [
        doc
        for path in sorted((MANIFESTS / "monitoring").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == kind
    ]
    return dict(doc)


def _kustomize(folder: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the overlays are rendered with `kubectl kustomize`")
    done = subprocess.run([kubectl, "kustomize", str(MANIFESTS / folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _documents() if doc["kind"] == kind]


def _job_specs() -> list[dict[str, Any]]:
    return [c["spec"]["jobTemplate"]["spec"] for c in _by_kind("CronJob")] + [j["spec"] for j in _by_kind("Job")]


def test_there_is_a_service_account_a_cronjob_a_oneshot_job_and_an_indexed_job() -> None:
    kinds = sorted(doc["kind"] for _, doc in _documents())
    assert kinds == ["CronJob", "Job", "Job", "ServiceAccount"]
    assert [j["spec"].get("completionMode") for j in _by_kind("Job")].count("Indexed") == 1


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schema(version: str) -> None:
    for name, doc in _documents():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} ({doc['kind']}) against Kubernetes {version}: {exc.message} at {list(exc.path)}")


def test_the_cronjob_never_overlaps_and_gives_up_in_time() -> None:
    (cron,) = _by_kind("CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["startingDeadlineSeconds"] > 0
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] >= 1


def test_configuration_errors_fail_the_job_at_once_and_disruptions_are_not_held_against_it() -> None:
    assert ConfigError.exit_code == EXIT_CONFIG and RunLocked.exit_code == 3
    for spec in _job_specs():
        rules = spec["podFailurePolicy"]["rules"]
        fail_job = [r for r in rules if r["action"] == "FailJob"]
        assert any(EXIT_CONFIG in r["onExitCodes"]["values"] for r in fail_job), rules
        # An empty desired relation is the wrong relation, most likely: a retry reads it again.
        assert any(EXIT_EMPTY in r["onExitCodes"]["values"] for r in fail_job), rules
        # A spent change budget waits for a person: a retry would only hold the same groups back.
        assert any(EXIT_OVER_BUDGET in r["onExitCodes"]["values"] for r in fail_job), rules
        assert all(0 not in r["onExitCodes"]["values"] for r in rules if "onExitCodes" in r)
        assert any(r["action"] == "Ignore" and r["onPodConditions"][0]["type"] == "DisruptionTarget" for r in rules)
        assert spec["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy requires it


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    pod = spec["template"]["spec"]
    containers: list[dict[str, Any]] = pod.get("initContainers", []) + pod["containers"]
    return containers


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def test_pods_outlive_the_workers_grace_period_run_as_the_images_user_and_read_the_secret() -> None:
    images = set()
    for spec in _job_specs():
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
        for container in _containers(spec):
            images.add(container["image"])
            # The Secret comes from the cluster's secret store (README: kubectl create secret).
            assert container["envFrom"] == [{"secretRef": {"name": "syncer"}}]
            grace = settings_from_env(_env(container)).grace_period_s
            assert pod["terminationGracePeriodSeconds"] > grace + 5, (container["name"], grace)
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert len(images) == 1


def test_pods_run_as_a_service_account_granted_nothing_whose_token_is_never_mounted() -> None:
    (account,) = _by_kind("ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    for spec in _job_specs():
        pod = spec["template"]["spec"]
        assert pod["serviceAccountName"] == account["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("folder", EXAMPLES)
def test_an_example_overlay_sets_image_and_namespace_and_renders_valid_manifests(folder: str) -> None:
    docs = _kustomize(folder)
    assert docs
    for doc in docs:
        assert doc["metadata"]["namespace"] == "chat-sync", doc["kind"]
        if doc["kind"] in ("CronJob", "Job"):
            spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
            assert {c["image"] for c in _containers(spec)} == {IMAGE}
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{folder}: {doc['kind']} against Kubernetes {version}: {exc.message} at {list(exc.path)}")


def test_the_example_overlay_sets_the_schedule_with_a_deadline_below_its_period_and_adds_monitoring() -> None:
    docs = _kustomize("overlays/example")
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "CronJob", "PodMonitor", "PrometheusRule", "ServiceAccount"]
    (cron,) = [d for d in docs if d["kind"] == "CronJob"]
    (base_cron,) = _by_kind("CronJob")
    assert cron["spec"]["schedule"] == "*/10 * * * *" != base_cron["spec"]["schedule"]
    assert cron["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] < 10 * 60
    (dashboard,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["syncer-dashboard.json"])["uid"] == "syncer"


def test_the_podmonitor_scrapes_the_port_the_jobs_serve_metrics_on() -> None:
    monitor = _monitoring("PodMonitor")
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    serving = 0
    for spec in _job_specs():
        labels = spec["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        for container in spec["template"]["spec"]["containers"]:
            port = settings_from_env(_env(container)).metrics_port
            if port is not None:
                serving += 1
                assert {"name": endpoint["port"], "containerPort": port} in container["ports"]
                assert endpoint["path"] == "/metrics"
    assert serving == 2  # the one-shot and the sharded Jobs; the CronJob pushes


def test_every_alert_has_a_warning_and_a_critical_level_that_say_what_to_do() -> None:
    rules = [r for g in _monitoring("PrometheusRule")["spec"]["groups"] for r in g["rules"]]
    levels: dict[str, set[str]] = {}
    for rule in rules:
        levels.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    assert set(levels) == {
        "SyncerNoRecentSuccess",
        "SyncerGroupsRejected",
        "SyncerGroupsFailed",
        "SyncerThrottled",
        "SyncerRunFailed",
        "SyncerRunStuck",
    }
    assert all(found == {"warning", "critical"} for found in levels.values()), levels


def test_promtool_accepts_the_alerts(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt install prometheus): the rules' syntax is not checked")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": _monitoring("PrometheusRule")["spec"]["groups"]}))
    done = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(rules.read_text().replace("max by (job, shard)", "max by (job, shard", 1))
    refused = subprocess.run([promtool, "check", "rules", str(broken)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0  # the check can fail


def test_the_oneshot_and_sharded_jobs_migrate_first_and_shards_agree_with_completions() -> None:
    for job in _by_kind("Job"):
        spec = job["spec"]
        assert [c["args"] for c in spec["template"]["spec"]["initContainers"]] == [["migrate"]]
        assert spec["template"]["spec"]["containers"][0]["args"][0] == "run"
    (indexed,) = [j["spec"] for j in _by_kind("Job") if j["spec"].get("completionMode") == "Indexed"]
    worker = indexed["template"]["spec"]["containers"][0]
    env = _env(worker)
    assert int(env["SYNCER_SHARD_COUNT"]) == indexed["completions"] == indexed["parallelism"]
    # What each pod will be, given the index Kubernetes sets:
    shards = {settings_from_env(env | {"JOB_COMPLETION_INDEX": str(i)}).shard for i in range(indexed["completions"])}
    assert {s.index for s in shards} == set(range(indexed["completions"]))


def test_the_schema_check_would_catch_a_misspelt_field() -> None:
    (cron,) = _by_kind("CronJob")
    cron["spec"]["concurencyPolicy"] = cron["spec"].pop("concurrencyPolicy")
    with pytest.raises(Exception, match="concurencyPolicy"):
        kubernetes_validate.validate(cron, KUBERNETES_VERSIONS[0], strict=True)


def test_the_cronjob_runs_with_a_change_budget_and_thresholds_syncer_accepts() -> None:
    (cron,) = _by_kind("CronJob")
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    settings = settings_from_env(env)
    assert settings.max_changes == Threshold(count=500)
    assert (str(settings.max_rejected), str(settings.max_failed)) == ("1%", "1%")


def test_every_read_only_container_has_a_writable_tmp() -> None:
    # A plan's spool (and any temporary file) goes to /tmp past a few MB: with a read-only root
    # filesystem, `syncer plan --json` over 4 MB once ended in "No usable temporary directory".
    for spec in _job_specs():
        pod = spec["template"]["spec"]
        scratch = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in scratch, container["name"]
