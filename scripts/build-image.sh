#!/usr/bin/env bash
# Builds the COMBIPAT image without a container engine: Debian's buildah, as root, with the
# vfs storage driver, from scratch. The image holds the service binaries found in BIN_DIR
# (combipat-intake, combipat-router, ... on PATH, so the chart's command combipat-<service>
# finds them), the shared libraries they link (from this Debian 12 machine, as ldd names
# them), the CA certificates (the services verify the identity provider's and S3's TLS with
# the system's roots), a passwd entry for the non-root user 65532, /tmp, and the ANPR
# reference data at /usr/share/combipat/anpr/, copied from ../shared/data at build time.
# Then it runs `combipat-<service> --help` of each binary inside the image once
# (buildah run --isolation chroot) as the image's user.
#
#   scripts/build-image.sh BIN_DIR [IMAGE]                  default IMAGE: localhost/combipat:dev
#   OCI_ARCHIVE=target/image/combipat.tar scripts/build-image.sh BIN_DIR   also writes an OCI archive
#   STRIP=0 ...                                             keeps the binaries' debug information
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=${1:?usage: scripts/build-image.sh BIN_DIR [IMAGE]}
image=${2:-localhost/combipat:dev}
data_dir=${COMBIPAT_SHARED_DATA:-../shared/data}
services=(intake router office-queue notifier reminder-scheduler reporting)
storage=(--storage-driver vfs)
start=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
  echo "build-image: buildah needs root here (no user namespaces for rootless builds)" >&2
  exit 1
fi
if ! command -v buildah >/dev/null 2>&1; then
  echo "build-image: installing buildah (Debian)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null; }
fi
for file in ANPR_archivio_comuni.csv ANPR_stati_esteri.csv; do
  [ -f "$data_dir/$file" ] || { echo "build-image: $data_dir/$file is missing (set COMBIPAT_SHARED_DATA)" >&2; exit 1; }
done

binaries=()
for service in "${services[@]}"; do
  if [ -x "$bin_dir/combipat-$service" ]; then
    binaries+=("combipat-$service")
  else
    echo "build-image: $bin_dir/combipat-$service not built, left out" >&2
  fi
done
[ "${#binaries[@]}" -gt 0 ] || { echo "build-image: no combipat-<service> binary in $bin_dir" >&2; exit 1; }

root=$(mktemp -d)
containers=()
cleanup() {
  local c
  for c in "${containers[@]}"; do buildah "${storage[@]}" rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$root"
}
trap cleanup EXIT

install -d -m 0755 "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/usr/share/combipat/anpr"
install -d -m 1777 "$root/tmp"
for bin in "${binaries[@]}"; do
  install -m 0755 "$bin_dir/$bin" "$root/usr/local/bin/$bin"
  # Debug builds carry ~50 MB of debug information per binary that nothing in a pod reads.
  [ "${STRIP:-1}" = 0 ] || strip --strip-debug "$root/usr/local/bin/$bin"
  # The libraries and the dynamic loader, at the paths the binary asks for.
  ldd "$bin_dir/$bin" | grep -oE '/[^ ]+' | while read -r lib; do
    cp --parents -L -n "$lib" "$root/"
  done
done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
cp "$data_dir/ANPR_archivio_comuni.csv" "$data_dir/ANPR_stati_esteri.csv" "$root/usr/share/combipat/anpr/"
cat >"$root/usr/share/combipat/anpr/NOTICE" <<'EOF'
ANPR_archivio_comuni.csv and ANPR_stati_esteri.csv: ANPR - Ministero dell'Interno,
licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/).
EOF
# Same bytes, same timestamps: the layer does not depend on when it was built.
find "$root" -exec touch -h -d @0 {} +

ctr=$(buildah "${storage[@]}" from scratch)
containers+=("$ctr")
buildah "${storage[@]}" copy --quiet "$ctr" "$root/" / >/dev/null
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
buildah "${storage[@]}" config \
  --user 65532:65532 \
  --workingdir /tmp \
  --env PATH=/usr/local/bin \
  --env COMBIPAT__TERRITORY__COMUNI_PATH=/usr/share/combipat/anpr/ANPR_archivio_comuni.csv \
  --env COMBIPAT__TERRITORY__STATI_ESTERI_PATH=/usr/share/combipat/anpr/ANPR_stati_esteri.csv \
  --env COMBIPAT__TELEMETRY__LOG_FORMAT=json \
  --cmd "${binaries[0]}" \
  --label org.opencontainers.image.title=combipat \
  --label org.opencontainers.image.description="COMBIPAT services: ${binaries[*]}" \
  --label org.opencontainers.image.revision="$revision" \
  --label org.opencontainers.image.licenses="EUPL-1.2 AND CC-BY-4.0" \
  "$ctr"
buildah "${storage[@]}" commit --quiet --rm --timestamp 0 "$ctr" "$image" >/dev/null
containers=()
built=$SECONDS

# Once inside the image: each binary starts (its libraries resolve) as the non-root user.
run=$(buildah "${storage[@]}" from "$image")
containers+=("$run")
for bin in "${binaries[@]}"; do
  buildah "${storage[@]}" run --isolation chroot "$run" -- "$bin" --help >/dev/null
done
user=$(buildah "${storage[@]}" inspect --format '{{.OCIv1.Config.User}}' "$image")

if [ -n "${OCI_ARCHIVE:-}" ]; then
  mkdir -p "$(dirname "$OCI_ARCHIVE")"
  rm -f "$OCI_ARCHIVE"
  buildah "${storage[@]}" push --quiet "$image" "oci-archive:$OCI_ARCHIVE" >/dev/null
fi

size=$(buildah "${storage[@]}" images --format '{{.Size}}' "$image" | head -n 1)
echo "build-image: $image ($size, user $user, ${#binaries[@]} binaries: ${binaries[*]}) built in $((built - start)) s, each binary ran inside it (--help)${OCI_ARCHIVE:+; OCI archive $OCI_ARCHIVE}"
