#!/usr/bin/env bash
# The Kubernetes deployment (deploy/helm/smartcity), checked without a cluster: `helm lint --strict`,
# `helm template` with the required values only and with every option set (ci/full-values.yaml: an
# S3 lake, an existing Secret, the HPA on, 4 members; also with the HPA off and with a created
# Secret), every rendered manifest decoded strictly against the Kubernetes API types
# (deploy/validate: unknown fields, wrong types and unknown kinds are errors), and the rendered
# StatefulSet checked for what a member needs (tests/e2e/deploy_check.py). The validator and the
# checker are shown to reject broken input, and the chart to refuse missing required values.
#
# Tools: helm (go install helm.sh/helm/v4/cmd/helm@HELM_VERSION) and the validator (go build of
# deploy/validate), both through the Go module proxy into .cache/go-tools/bin, once (a stamp names
# the version; a lock serialises concurrent runs). Without Go, Debian's golang-go is installed and
# its GOTOOLCHAIN=auto fetches the toolchain the modules need, as scripts/minio.sh does.
# Usage: deploy_helm.sh SMARTCITY_BINARY
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=${1:?usage: deploy_helm.sh SMARTCITY_BINARY}

HELM_VERSION=v4.3.2
gobin="$root/.cache/go-tools/bin"
chart="$root/deploy/helm/smartcity"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_tools() {
  if ! command -v go >/dev/null; then
    if [ -x /usr/local/go/bin/go ]; then
      PATH="/usr/local/go/bin:$PATH"
    else
      echo "deploy_helm: installing Debian package golang-go" >&2
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        golang-go >/dev/null
    fi
  fi
  mkdir -p "$gobin"
  exec 8>"$gobin/.lock"
  flock -w 1800 8 || fail "timed out waiting for another install in $gobin"
  local t0=$SECONDS log="$gobin/install.log"
  if [ ! -x "$gobin/helm" ] || [ "$(cat "$gobin/.helm-version" 2>/dev/null)" != "$HELM_VERSION" ]; then
    echo "deploy_helm: go install helm $HELM_VERSION (a few minutes the first time)" >&2
    GOBIN="$gobin" GOFLAGS=-buildvcs=false go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" \
      >"$log" 2>&1 || { tail -20 "$log" >&2; fail "go install helm failed (log: $log)"; }
    echo "$HELM_VERSION" >"$gobin/.helm-version"
  fi
  # The validator is rebuilt whenever its sources change.
  local sum
  sum=$(cat "$root"/deploy/validate/{go.mod,go.sum,main.go} | sha256sum | cut -c1-16)
  validate="$gobin/k8s-validate-$sum"
  if [ ! -x "$validate" ]; then
    echo "deploy_helm: building deploy/validate" >&2
    (cd "$root/deploy/validate" && GOFLAGS="-buildvcs=false -mod=readonly" go build -o "$validate.tmp" .) \
      >"$log" 2>&1 || { tail -20 "$log" >&2; fail "building deploy/validate failed (log: $log)"; }
    mv "$validate.tmp" "$validate"
  fi
  exec 8>&-
  echo "deploy_helm: tools ready in $((SECONDS - t0)) s" >&2
  helm="$gobin/helm"
}

install_tools
workdir deploy_helm
"$helm" version --short >&2

"$smartcity" stream --help >"$work/help.txt"
required=(--set image.repository=registry.example/smartcity
          --set kafka.bootstrapServers=kafka:9092 --set lake.uri=s3://city-lake/prefix)
full=(-f "$chart/ci/full-values.yaml")
created=("${required[@]}" --set credentials.create.accessKeyId=AKIAEXAMPLE
         --set credentials.create.secretAccessKey=not-a-real-secret)

check "helm lint --strict, required values only" "$helm" lint --strict "$chart" "${required[@]}"
check "helm lint --strict, every option" "$helm" lint --strict "$chart" "${full[@]}"

# Renders, validates and checks one case.
render_case() {
  local case=$1
  shift
  if ! "$helm" template city "$chart" --namespace smartcity "$@" >"$work/$case.yaml" 2>"$work/$case.err"; then
    cat "$work/$case.err" >&2
    not_ok "helm template ($case)"
    return
  fi
  ok "helm template ($case)"
  check "manifests valid ($case)" "$validate" -q -json "$work/$case.json" "$work/$case.yaml"
  check "rendered objects as required ($case)" \
    python3 "$root/tests/e2e/deploy_check.py" "$work/$case.json" "$work/help.txt" "$case"
}
render_case minimal "${required[@]}"
render_case full "${full[@]}"
render_case fixed "${full[@]}" --set autoscaling.enabled=false
render_case created "${created[@]}"
render_case autoscaled "${required[@]}" --set autoscaling.enabled=true --set kafka.group=g1
# A user's own affinity replaces the chart's anti-affinity.
check "helm template with an affinity of one's own" "$helm" template city "$chart" "${required[@]}" \
  --set-json 'affinity={"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}]}}}' \
  --output-dir "$work/affinity" >/dev/null
check "manifests valid (affinity)" "$validate" -q "$work"/affinity/smartcity/templates/*.yaml

# The chart refuses to render without its required values, naming them.
for missing in image.repository kafka.bootstrapServers lake.uri; do
  args=()
  for ((i = 1; i < ${#required[@]}; i += 2)); do
    [[ ${required[i]} == "$missing="* ]] || args+=(--set "${required[i]}")
  done
  run_status st "$helm" template city "$chart" "${args[@]}" >/dev/null 2>"$work/missing.err"
  if [ "$st" != 0 ] && grep -q "$missing" "$work/missing.err"; then
    ok "without $missing the chart refuses to render"
  else
    cat "$work/missing.err" >&2
    not_ok "without $missing the chart refuses to render"
  fi
done

# The probes the chart configures, against the real server: `run` (the same live view and loop as
# `stream`, without a broker) with the chart's kind of --allowed-host. The kubelet's requests carry
# Host: localhost; Prometheus's carry the pod IP.
"$smartcity" run --speedup 60 --vehicles 5 --duration 30m --lake "$work/lake" \
  --listen 127.0.0.1:0 --allowed-host=10.1.2.3 --keep-serving >"$work/run.log" 2>&1 &
run_pid=$!
track "$run_pid"
wait_for 60 grep -q "live view at http://" "$work/run.log" || { cat "$work/run.log" >&2; fail "run did not serve"; }
url=$(grep -o "live view at http://[0-9.:]*/" "$work/run.log" | head -1 | sed 's/live view at //')
probe() { curl -s -o "$work/probe.body" -w '%{http_code}' --max-time 5 -H "Host: $2" "${url}${1#/}"; }
answers() { test "$(probe "$1" localhost)" = "$2"; }
check "/healthz with Host: localhost answers 200 while running" test "$(probe /healthz localhost)" = 200
wait_for 60 answers /readyz 200 || { cat "$work/probe.body" "$work/run.log" >&2; }
check "/readyz answers 200 once the run owns a group and has committed" test "$(probe /readyz localhost)" = 200
check "/readyz says so" grep -Eq "^ready: [0-9]+ partition group\(s\)$" "$work/probe.body"
check "/metrics with the pod IP as Host (an allowed host)" test "$(probe /metrics 10.1.2.3:8080)" = 200
check "another Host is refused" test "$(probe /metrics 10.9.9.9)" = 403
wait_for 120 grep -q "still serving the live view" "$work/run.log" || { cat "$work/run.log" >&2; fail "run did not finish"; }
check "/readyz answers 503 once the pipeline has finished" test "$(probe /readyz localhost)" = 503
check "/readyz says why" grep -q "^not ready: pipeline finished$" "$work/probe.body"
check "/healthz stays 200 while it keeps serving" test "$(probe /healthz localhost)" = 200
kill -INT "$run_pid"
wait "$run_pid" || true

# The checks reject broken input: a misspelled field, a wrong type, an unknown kind, a probe on the
# wrong path.
expect_rejected() {
  local what=$1
  shift
  run_status st "$@" >"$work/rejected.out" 2>&1
  if [ "$st" != 0 ]; then
    ok "rejected: $what"
  else
    cat "$work/rejected.out" >&2
    not_ok "rejected: $what"
  fi
}
sed 's/livenessProbe:/livenesProbe:/' "$work/minimal.yaml" >"$work/typo.yaml"
grep -q 'livenesProbe:' "$work/typo.yaml" || fail "the broken manifest was not made (typo)"
expect_rejected "a misspelled field" "$validate" -q "$work/typo.yaml"
sed 's/^  replicas: 2$/  replicas: two/' "$work/minimal.yaml" >"$work/type.yaml"
grep -q 'replicas: two' "$work/type.yaml" || fail "the broken manifest was not made (replicas)"
expect_rejected "a wrong type" "$validate" -q "$work/type.yaml"
sed 's/^kind: PodDisruptionBudget$/kind: PodDisruptionBudgett/' "$work/minimal.yaml" >"$work/kind.yaml"
grep -q 'PodDisruptionBudgett' "$work/kind.yaml" || fail "the broken manifest was not made (kind)"
expect_rejected "an unknown kind" "$validate" -q "$work/kind.yaml"
sed 's|path: /readyz|path: /healthz|' "$work/minimal.yaml" >"$work/probe.yaml"
grep -q 'path: /readyz' "$work/probe.yaml" && fail "the broken manifest was not made (probe)"
"$validate" -q -json "$work/probe.json" "$work/probe.yaml"
expect_rejected "readiness on /healthz" \
  python3 "$root/tests/e2e/deploy_check.py" "$work/probe.json" "$work/help.txt" minimal

finish
