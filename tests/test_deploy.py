"""deploy/kubernetes/: every manifest valid against the Kubernetes schemas (offline, strict), and
consistent with what syncer itself does: exit codes, grace period, shard count, image."""

from __future__ import annotations

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


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        docs += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _documents() if doc["kind"] == kind]


def _job_specs() -> list[dict[str, Any]]:
    return [c["spec"]["jobTemplate"]["spec"] for c in _by_kind("CronJob")] + [j["spec"] for j in _by_kind("Job")]


def test_there_is_a_secret_a_cronjob_a_oneshot_job_and_an_indexed_job() -> None:
    kinds = sorted(doc["kind"] for _, doc in _documents())
    assert kinds == ["CronJob", "Job", "Job", "Secret"]
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
    (secret,) = _by_kind("Secret")
    images = set()
    for spec in _job_specs():
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
        for container in _containers(spec):
            images.add(container["image"])
            assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
            grace = settings_from_env(_env(container)).grace_period_s
            assert pod["terminationGracePeriodSeconds"] > grace + 5, (container["name"], grace)
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert len(images) == 1
    assert {"SYNCER_DATABASE_URL", "TENCENT_IM_SECRET_KEY", "TENCENT_IM_SDKAPPID"} <= set(secret["stringData"])


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
