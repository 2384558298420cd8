#!/usr/bin/env bash
# deploy/kubernetes/ against the schemas of a pinned Kubernetes version (kubernetes-validate, which
# ships them: after the pip install nothing is downloaded, and the check runs without a network
# where `unshare -n` is allowed), then the cross-references no schema sees: selectors, target
# names, probe ports, and the grace period against the drain.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VERSION=1.33.0           # the oldest release the manifests promise to work on
KUBERNETES_VALIDATE=1.37.0          # ships the schemas of 1.32 to 1.37

venv="${QRSCAN_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qrscan-ci}/kubernetes-validate-$KUBERNETES_VALIDATE"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE"
fi
offline=()
if unshare -n true 2>/dev/null; then offline=(unshare -n); fi

cd deploy/kubernetes
# Kubernetes objects only: kustomization.yaml is kustomize's own file, and keda-scaledobject.yaml
# is a KEDA CRD with no schema here (the checks below read it instead).
objects=(deployment.yaml service.yaml hpa.yaml pdb.yaml secret.example.yaml batch-job.yaml)
"${offline[@]}" "$venv/bin/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "${objects[@]}"

"${offline[@]}" "$venv/bin/python" - <<'EOF'
import re, sys, yaml

docs = {}
for name in ["deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml", "secret.example.yaml",
             "batch-job.yaml", "keda-scaledobject.yaml", "kustomization.yaml"]:
    with open(name) as f:
        for doc in yaml.safe_load_all(f):
            docs[(doc["kind"], doc["metadata"]["name"] if "metadata" in doc else name)] = doc
failures = []
def check(ok, what):
    if not ok:
        failures.append(what)

deployment = docs[("Deployment", "qrscan")]
pod = deployment["spec"]["template"]
labels = pod["metadata"]["labels"]
container = pod["spec"]["containers"][0]
env = {e["name"]: e.get("value") for e in container["env"]}
ports = {p["name"] for p in container["ports"]}

def selects(selector, what):
    check(selector.items() <= labels.items(), f"{what} selects {selector}, the pods are {labels}")
selects(deployment["spec"]["selector"]["matchLabels"], "the Deployment")
selects(docs[("Service", "qrscan")]["spec"]["selector"], "the Service")
selects(docs[("PodDisruptionBudget", "qrscan")]["spec"]["selector"]["matchLabels"], "the PDB")
for kind in ["HorizontalPodAutoscaler", "ScaledObject"]:
    target = docs[(kind, "qrscan")]["spec"]["scaleTargetRef"]
    check((target["kind"], target["name"]) == ("Deployment", "qrscan"), f"the {kind} scales {target}")
check(docs[("Service", "qrscan")]["spec"]["ports"][0]["targetPort"] in ports, "the Service's targetPort")
# Probes and scrapes go to the admin listener, whose connections clients cannot use up.
admin = next(p for p in container["ports"] if p["name"] == "admin")
check(env.get("QRSCAN_ADMIN_LISTEN", "").rsplit(":", 1)[-1] == str(admin["containerPort"]),
      f"QRSCAN_ADMIN_LISTEN {env.get('QRSCAN_ADMIN_LISTEN')} is not the admin port {admin['containerPort']}")
for probe, path in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
    get = container[probe]["httpGet"]
    check(get["path"] == path and get["port"] == "admin", f"{probe} is {get}, not on the admin port")
annotations = pod["metadata"].get("annotations", {})
check(annotations.get("prometheus.io/port") == str(admin["containerPort"]),
      f"prometheus.io/port {annotations.get('prometheus.io/port')} is not the admin port")

# The kubelet's SIGKILL must come after the drain delay and the shutdown timeout.
seconds = lambda v: int(re.fullmatch(r"(\d+)s", v).group(1))
drain = seconds(env["QRSCAN_DRAIN_DELAY"]) + seconds(env["QRSCAN_SHUTDOWN_TIMEOUT"])
grace = pod["spec"]["terminationGracePeriodSeconds"]
check(drain < grace, f"terminationGracePeriodSeconds {grace} <= drain {drain}")

# The keys file the variable names is the one the Secret volume mounts.
mount = next(m for m in container["volumeMounts"] if m["name"] == "api-keys")
volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "api-keys")
paths = {f'{mount["mountPath"]}/{i["path"]}' for i in volume["secret"]["items"]}
check(env["QRSCAN_API_KEYS_FILE"] in paths, f"QRSCAN_API_KEYS_FILE is not one of {paths}")
check(volume["secret"]["secretName"] == "qrscan-api-keys", "the Secret's name")

# Locked down, in the service and in the batch Job alike.
job = docs[("Job", "qrscan-batch")]
check(job["spec"]["completionMode"] == "Indexed", "the batch Job is not Indexed")
job_env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
check(int(job_env["SHARDS"]) == job["spec"]["completions"], "SHARDS != completions")
for what, spec in [("Deployment", pod["spec"]), ("Job", job["spec"]["template"]["spec"])]:
    for c in spec["containers"]:
        sc = c["securityContext"]
        check(sc.get("allowPrivilegeEscalation") is False and sc.get("readOnlyRootFilesystem") is True
              and sc.get("capabilities", {}).get("drop") == ["ALL"] and sc.get("runAsUser") == 10001,
              f"{what} container {c['name']} securityContext {sc}")

# kustomization.yaml lists files that exist, and the opt-in ones stay out of it.
resources = docs[("Kustomization", "kustomization.yaml")]["resources"]
check(resources == ["deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml"], f"kustomization {resources}")

for failure in failures:
    print(f"deploy/kubernetes: {failure}", file=sys.stderr)
sys.exit(1 if failures else 0)
EOF
echo "deploy/kubernetes: valid against Kubernetes $KUBERNETES_VERSION, cross-references hold"
