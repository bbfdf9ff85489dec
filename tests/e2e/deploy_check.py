"""Checks the Helm chart's rendered objects (deploy/helm/smartcity) for what issue 17 asks of a
deployment. Input: the JSON array that deploy/validate writes with -json, the output of
`smartcity stream --help`, and the case rendered:

  minimal   only the required values (defaults otherwise)
  full      ci/full-values.yaml (S3 options, an existing Secret, HPA on, 4 members)
  fixed     ci/full-values.yaml with the HPA off (replicas 4)
  created   the chart creates the credentials Secret from values
  autoscaled  the required values, the HPA on with its defaults, consumer group g1

Prints one line per failed expectation and exits 1 if any; 0 and "N checks" otherwise.
"""
import json
import re
import sys

objects_file, help_file, case = sys.argv[1:4]
objects = json.load(open(objects_file))
help_text = open(help_file).read()
problems = []
count = 0


def expect(cond, what):
    global count
    count += 1
    if not cond:
        problems.append(what)


def kinds(kind):
    return [o for o in objects if o["kind"] == kind]


def one(kind):
    found = kinds(kind)
    expect(len(found) == 1, f"one {kind} (found {len(found)})")
    return found[0] if found else {}


def mib(quantity):
    """A memory quantity in MiB ("1536Mi", "2Gi"); None for another form."""
    units = {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    m = re.fullmatch(r"(\d+)(Mi|Gi|Ti)", quantity or "")
    return int(m.group(1)) * units[m.group(2)] if m else None


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


sts = one("StatefulSet")
spec = sts.get("spec", {})
pod = spec.get("template", {}).get("spec", {})
containers = pod.get("containers", [])
expect(len(containers) == 1, "one container")
c = containers[0] if containers else {}
env = env_of(c)
args = c.get("args", [])

# Stable instance ids: the pod name.
iid = env.get("SMARTCITY_INSTANCE_ID", {})
expect(iid.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
       "SMARTCITY_INSTANCE_ID from fieldRef metadata.name")
expect(spec.get("podManagementPolicy") == "Parallel", "podManagementPolicy Parallel")
expect(args[:1] == ["stream"], f"runs `stream` (args {args[:1]})")
for name in ("KAFKA_BOOTSTRAP_SERVERS", "SMARTCITY_GROUP", "SMARTCITY_LAKE",
             "SMARTCITY_MEMORY_LIMIT"):
    expect(name in env, f"env {name}")

# Every option and variable the chart hands the binary is one `stream --help` documents.
for a in args[1:]:
    m = re.match(r"(--[a-z-]+)", a)
    if m:
        expect(m.group(1) in help_text, f"option {m.group(1)} is in `stream --help`")
for name in env:
    # The S3 store's own variables (docs/s3.md) and the test's extra one are not options.
    if name.startswith(("SMARTCITY_", "KAFKA_")) and not name.startswith(
            ("SMARTCITY_S3_", "SMARTCITY_EXTRA")):
        expect(name in help_text, f"variable {name} is in `stream --help`")

# Probes: /healthz for start-up and liveness, /readyz for readiness, with a Host the server serves.
port_name = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                    ("readinessProbe", "/readyz")):
    get = c.get(probe, {}).get("httpGet", {})
    expect(get.get("path") == path, f"{probe} on {path} (got {get.get('path')})")
    expect(get.get("port") == "http", f"{probe} on the http port")
    hosts = [h["value"] for h in get.get("httpHeaders", []) if h["name"].lower() == "host"]
    expect(hosts == ["localhost"], f"{probe} sends Host: localhost")
expect(any(a.startswith("--listen=0.0.0.0:") for a in args), "--listen on every interface")
listen_port = next((int(a.rsplit(":", 1)[1]) for a in args if a.startswith("--listen=")), None)
expect(port_name.get("http") == listen_port, "container port http is the --listen port")
expect("--allowed-host=$(POD_IP)" in args, "the pod IP is an allowed host (scrapes by IP)")
expect(any(re.fullmatch(r"--allowed-host=[a-z0-9-]+\.[a-z0-9-]+\.svc\.[a-z.]+", a) for a in args),
       "the Service's cluster DNS name is an allowed host")

# Resources: the memory limit derives from the same --memory-limit, with headroom.
res = c.get("resources", {})
limit_mib = int(env.get("SMARTCITY_MEMORY_LIMIT", {}).get("value", "0"))
mem_limit = res.get("limits", {}).get("memory", "")
mem_request = res.get("requests", {}).get("memory", "")
expect((mib(mem_limit) or 0) > limit_mib,
       f"memory limit {mem_limit} above --memory-limit {limit_mib} MiB")
expect(bool(mem_request) and bool(res.get("requests", {}).get("cpu")), "requests for memory and cpu")

# Clean stop and placement; a non-root container with a read-only root and a scratch emptyDir.
expect(pod.get("terminationGracePeriodSeconds", 0) >= 60, "terminationGracePeriodSeconds >= 60")
expect("podAntiAffinity" in pod.get("affinity", {}), "podAntiAffinity")
sc = c.get("securityContext", {})
expect(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
expect(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
expect(pod.get("securityContext", {}).get("runAsNonRoot") is True, "runAsNonRoot")
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
vols = {v["name"]: v for v in pod.get("volumes", [])}
expect("/tmp" in mounts and "emptyDir" in vols.get(mounts.get("/tmp"), {}), "emptyDir at /tmp")
expect(env.get("TMPDIR", {}).get("value") == "/tmp", "TMPDIR=/tmp")

# Services: the live view and /metrics, and the StatefulSet's headless one.
services = {s["metadata"]["name"]: s for s in kinds("Service")}
headless = services.get(spec.get("serviceName"), {})
expect(headless.get("spec", {}).get("clusterIP") == "None", "the governing Service is headless")
expect(headless.get("spec", {}).get("publishNotReadyAddresses") is True,
       "the headless Service publishes members that are not ready (their /metrics)")
live = [s for n, s in services.items() if n != spec.get("serviceName")]
expect(len(live) == 1, "one Service for the live view")
for s in live:
    ports = s["spec"]["ports"]
    expect([p.get("targetPort") for p in ports] == ["http"], "the Service targets the http port")
sel = spec.get("selector", {}).get("matchLabels", {})
for s in services.values():
    expect(s["spec"].get("selector") == sel, f"Service {s['metadata']['name']} selects the members")
expect(len(kinds("PodDisruptionBudget")) == 1, "a PodDisruptionBudget")

secret_env = env.get("AWS_SECRET_ACCESS_KEY", {}).get("valueFrom", {}).get("secretKeyRef", {})
if case == "minimal":
    expect(spec.get("replicas") == 2, "2 members by default")
    expect(mib(mem_limit) == 1536 and mib(mem_request) == 1536,
           f"1024 MiB + 50% = 1536Mi limit and request (got {mem_limit}/{mem_request})")
    expect(not kinds("HorizontalPodAutoscaler"), "no HPA by default")
    expect(not kinds("Secret") and "AWS_ACCESS_KEY_ID" not in env, "no credentials by default")
    expect("AWS_ENDPOINT_URL" not in env, "no endpoint by default (AWS)")
elif case in ("full", "fixed"):
    expect(env["SMARTCITY_LAKE"]["value"] == "s3://city-lake/north", "the S3 lake")
    expect(env.get("AWS_ENDPOINT_URL", {}).get("value") == "http://minio.storage.svc:9000",
           "the S3 endpoint")
    expect(env.get("AWS_REGION", {}).get("value") == "eu-west-1", "the S3 region")
    expect(env.get("SMARTCITY_S3_ADDRESSING", {}).get("value") == "path", "the S3 addressing")
    expect(secret_env == {"name": "city-lake-s3", "key": "secret-key"},
           f"the secret key from the existing Secret (got {secret_env})")
    expect("AWS_SESSION_TOKEN" in env, "the session token from the existing Secret")
    expect(not kinds("Secret"), "no Secret created beside an existing one")
    expect(mib(mem_limit) == 2560 and mib(mem_request) == 2048,
           f"2048 MiB + 25% = 2560Mi limit, 2048Mi request (got {mem_limit}/{mem_request})")
    expect(res.get("limits", {}).get("cpu") == "4", "the cpu limit")
    expect("--allowed-host=city.example" in args, "an extra allowed host")
    expect("--watermark-delay=30s" in args, "extra args")
    expect(vols.get("scratch", {}).get("emptyDir", {}).get("medium") == "Memory", "scratch medium")
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    expect("requiredDuringSchedulingIgnoredDuringExecution" in anti, "hard anti-affinity")
    hpas = kinds("HorizontalPodAutoscaler")
    if case == "full":
        expect("replicas" not in spec, "the HPA owns the replica count")
        expect(len(hpas) == 1, "an HPA")
        for h in hpas:
            hs = h["spec"]
            expect(hs["minReplicas"] == 4 and hs["maxReplicas"] == 12, "HPA bounds")
            expect(hs["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                            "name": sts["metadata"]["name"]}, "HPA target")
            m = hs["metrics"][0]
            expect(m["type"] == "External"
                   and m["external"]["metric"]["name"] == "kafka_consumergroup_lag"
                   and m["external"]["target"] == {"type": "AverageValue", "averageValue": "50k"},
                   f"HPA on the external lag metric (got {m})")
    else:
        expect(spec.get("replicas") == 4, "4 members")
        expect(not hpas, "no HPA")
elif case == "created":
    secrets = kinds("Secret")
    expect(len(secrets) == 1, "the chart creates the Secret")
    for s in secrets:
        expect(secret_env.get("name") == s["metadata"]["name"], "the container reads it")
        expect(set(s.get("stringData", {})) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
               "its keys")
    ann = spec.get("template", {}).get("metadata", {}).get("annotations", {})
    expect("checksum/credentials" in ann, "members restart when the Secret changes")
elif case == "autoscaled":
    expect("replicas" not in spec, "the HPA owns the replica count")
    for h in kinds("HorizontalPodAutoscaler"):
        hs = h["spec"]
        expect((hs["minReplicas"], hs["maxReplicas"]) == (2, 8), "default HPA bounds")
        ext = hs["metrics"][0]["external"]
        expect(ext["metric"].get("selector") == {"matchLabels": {"consumergroup": "g1"}},
               f"the lag metric selected by the chart's consumer group (got {ext['metric']})")
        expect(ext["target"] == {"type": "AverageValue", "averageValue": "100k"},
               f"default target (got {ext['target']})")
    expect(len(kinds("HorizontalPodAutoscaler")) == 1, "an HPA")
else:
    sys.exit(f"unknown case {case}")

for p in problems:
    print(f"deploy_check {case}: expected {p}")
if problems:
    sys.exit(1)
print(f"deploy_check {case}: {count} checks")
