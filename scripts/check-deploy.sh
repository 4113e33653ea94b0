#!/usr/bin/env bash
# The deployment checks (issue 14): the Helm chart, the manifests of k8s/, the alerts and the
# dashboards, all offline. Installs what it needs on first use (scripts/deploy/ensure-tools.sh).
#   scripts/check-deploy.sh            everything
# Renders and reports go to target/check-deploy/. When the service binaries are built
# (COMBIPAT_BIN_DIR, default $CARGO_TARGET_DIR/debug), it also runs each of them with the
# render's settings, commands and probes against this machine's PostgreSQL, RabbitMQ and
# Redis (helm/combipat/tests/check_binaries.py; scripts/ensure-servers.sh starts them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deploy/ensure-tools.sh

chart=helm/combipat
tests=$chart/tests
out=target/check-deploy
rm -rf "$out" && mkdir -p "$out"
failed=()
passed=0

step() {
  local name=$1
  shift
  local start=$SECONDS
  if "$@" >"$out/$name.log" 2>&1; then
    passed=$((passed + 1))
    local said
    said=$(grep -v '^[[:space:]]*$' "$out/$name.log" | tail -n 1 | sed 's/^[[:space:]]*//' || true)
    printf 'ok    %-22s %3ss  %s\n' "$name" $((SECONDS - start)) "${said:-(nothing to report)}"
  else
    failed+=("$name")
    printf 'FAIL  %-22s %3ss  (%s)\n' "$name" $((SECONDS - start)) "$out/$name.log"
    sed 's/^/      /' "$out/$name.log" | tail -n 40
  fi
}

# Renders: the defaults with only what they require (CI's test secrets), the production-like
# and the minimal values files.
renders=(
  "$out/render-default.yaml:$tests/required-inputs.yaml"
  "$out/render-production.yaml:$chart/ci/production-values.yaml"
  "$out/render-minimal.yaml:$chart/ci/minimal-values.yaml"
)
render_all() {
  local spec
  for spec in "${renders[@]}"; do
    IFS=: read -r -a parts <<<"$spec"
    python3 "$tests/render.py" render "${parts[@]}"
  done
}
render_paths=()
for spec in "${renders[@]}"; do render_paths+=("${spec%%:*}"); done

step helm-lint            python3 "$tests/render.py" lint "$tests/required-inputs.yaml"
step helm-lint-production python3 "$tests/render.py" lint "$chart/ci/production-values.yaml"
step render               render_all
step render-cases         python3 "$tests/check_render_cases.py"
step chart-contract       python3 "$tests/check_chart.py" "${renders[@]}"
step split-objects        python3 "$tests/split_objects.py" "$out/core.yaml" "$out/custom-resources.json" "${render_paths[@]}" k8s/*/*.yaml
step kubernetes-validate  kubernetes-validate --strict --quiet -k 1.30.0 "$out/core.yaml"
step custom-resources     node "$tests/crd-schemas/validate_crs.mjs" "$out/custom-resources.json"
step security-scan        python3 "$tests/security_scan.py" "$out/core.yaml"
step k8s-postgres-fresh   python3 scripts/deploy/make-k8s-postgres.py --check
step dashboards-fresh     python3 scripts/deploy/make-dashboards.py --check
step dashboard-queries    bash -c "python3 $tests/dashboard_rules.py $out/dashboard-queries.yaml && promtool check rules $out/dashboard-queries.yaml"
step metrics-used         python3 "$tests/check_metrics.py"
step alerts               python3 "$tests/check_alerts.py" "$out/render-production.yaml" "$out/rendered-rules.yaml"
step promtool-check       promtool check rules "$chart/files/alerts.yaml" "$out/rendered-rules.yaml"
step promtool-test        bash -c "cd $tests && promtool test rules alerts-test.yaml alerts-test-3d.yaml"

bin_dir=${COMBIPAT_BIN_DIR:-${CARGO_TARGET_DIR:-target}/debug}
if [ -x "$bin_dir/combipat-router" ]; then
  step binaries           python3 "$tests/check_binaries.py" "$bin_dir" "$out/render-default.yaml"
else
  echo "skip  binaries               (no service binaries in $bin_dir: build them, or set COMBIPAT_BIN_DIR)"
fi

echo "check-deploy: $passed passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
