# COMBIPAT: `just up` runs the system locally, `just test` runs every test.
set shell := ["bash", "-euo", "pipefail", "-c"]

# PostgreSQL URL used by tests to create a database per test.
export COMBIPAT_TEST_ADMIN_DATABASE_URL := env_var_or_default("COMBIPAT_TEST_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

_default:
    @just --list

# Make sure PostgreSQL, RabbitMQ and Redis run, and the service databases exist.
setup:
    scripts/ensure-servers.sh

# Build every service binary.
build:
    cargo build --workspace --bins

# The whole suite against the real servers (starts or installs them as needed). The test
# build makes every service binary the end-to-end tests run (each service has integration
# tests), with the test build's features, so a separate `build` would only build them twice.
test: setup
    scripts/ensure-tools.sh
    scripts/drop-test-databases.sh
    scripts/fault-matrix.sh cargo nextest run --workspace --no-fail-fast

# The fault-injection tests alone, with their report (accepted, filed, lost, duplicated):
# SIGKILL of each service, RabbitMQ and PostgreSQL restarted (their own instances) under load.
# `just test` runs them too.
test-faults: setup build
    scripts/ensure-tools.sh
    scripts/fault-matrix.sh cargo nextest run -p combipat-e2e --test faults

# Formatting and clippy, warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks (release build): routing decisions in process, the router pipeline end to end
# beside the broker's own limit on this machine, office-queue with a million open items, and
# intake's SubmitRequest; then the load generator through the six service binaries beside
# PostgreSQL and RabbitMQ alone, at 300/s, 1,000/s for 120 s and 3,000/s (shedding), with CPU
# per request, peak RSS and connections (reports in target/bench/load-*.md and .svg).
# Results in target/bench and target/criterion.
bench messages="20000": setup
    cargo build --release --workspace --bins
    cargo bench -p combipat-router --bench decide -- --noplot
    RUST_LOG=warn cargo run --release -q -p combipat-bench --bin router-pipeline -- {{messages}}
    RUST_LOG=warn cargo run --release -q -p combipat-bench --bin router-pipeline -- {{messages}} 500
    RUST_LOG=error cargo run --release -q -p combipat-bench --bin office-queue -- 1000000 500
    RUST_LOG=error cargo run --release -q -p combipat-bench --bin intake-submit -- 10000 32
    RUST_LOG=error cargo run --release -q -p combipat-bench --bin intake-submit -- 5000 4
    RUST_LOG=error cargo run --release -q -p combipat-bench --bin scheduler -- 5000000 100000 1000
    RUST_LOG=warn cargo run --release -q -p combipat-bench --bin notifier -- 5000 300
    RUST_LOG=error cargo run --release -q -p combipat-bench --bin reporting
    RUST_LOG=error cargo run --release -q -p combipat-bench --bin load -- open 300 60
    RUST_LOG=error cargo run --release -q -p combipat-bench --bin load -- open 1000 120
    RUST_LOG=error cargo run --release -q -p combipat-bench --bin load -- overload 3000 30

# Not part of `just test`. Installs cargo-fuzz if missing, builds in ~/.cache/combipat/fuzz-target
# (`just fuzz 0` only builds); failing inputs land in fuzz/artifacts/<target>/ (fuzz/README.md).
# Fuzz each cargo-fuzz target in fuzz/ for `seconds`, on the stable toolchain.
fuzz seconds="120":
    scripts/fuzz.sh {{seconds}}

# Start every service in the background with the local development settings.
up: setup build
    scripts/up.sh

# Stop what `just up` started.
down:
    scripts/down.sh

# Print a development bearer token: just token operatore patronato=INCA patronato_office=INCA-MI-01
token role *claims:
    @cargo run -q -p combipat-platform --bin combipat-token -- {{role}} {{claims}}

# Apply each service's migrations to its local database.
migrate: setup build
    for service in $(awk '!/^#/ && NF >= 4 { print $1 }' services.txt); do cargo run -q -p combipat-$service -- migrate; done

# The deployment checks, offline: Helm chart, k8s/, CRD schemas, checkov, alerts and dashboards.
check-deploy:
    scripts/check-deploy.sh
