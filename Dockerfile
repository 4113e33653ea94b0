# syntax=docker/dockerfile:1.7
# The COMBIPAT image for users with Docker (BuildKit): every service binary in one image, run
# as the non-root user 65532 on distroless (glibc, libgcc, CA roots, no shell). The ANPR
# reference data is never in this repository: it comes from a named build context.
#
#   docker build --build-context anpr=../shared/data -t combipat:dev .
#
# On machines without a container engine, scripts/build-image.sh builds the same layout with
# buildah from binaries already built.
FROM rust:1.94-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
 && mkdir -p /out \
 && for service in intake router office-queue notifier reminder-scheduler reporting; do \
      if [ -x "target/release/combipat-$service" ]; then cp "target/release/combipat-$service" /out/; fi; \
    done

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
COPY --from=anpr ANPR_archivio_comuni.csv ANPR_stati_esteri.csv /usr/share/combipat/anpr/
ENV COMBIPAT__TERRITORY__COMUNI_PATH=/usr/share/combipat/anpr/ANPR_archivio_comuni.csv \
    COMBIPAT__TERRITORY__STATI_ESTERI_PATH=/usr/share/combipat/anpr/ANPR_stati_esteri.csv \
    COMBIPAT__TELEMETRY__LOG_FORMAT=json
LABEL org.opencontainers.image.title="combipat" \
      org.opencontainers.image.licenses="EUPL-1.2 AND CC-BY-4.0"
USER 65532:65532
WORKDIR /tmp
# The chart names the binary (combipat-<service> serve); this default is for a quick look.
CMD ["combipat-intake", "--help"]
