#!/usr/bin/env bash
# Debian packages the tests (and benchmarks) use, installed when missing. Shared by
# `.ci/run` and `npm test` (pretest), so a fresh machine needs nothing by hand:
#   protobuf-compiler  protoc, to check src/generated against proto/
#   nats-server        started by the bus integration tests themselves
#   clang llvm libbpf-dev  build the XDP object; libbpf1 is what the daemon loads (koffi)
#   bpftool iproute2 iputils-ping python3  XDP tests in network namespaces and its bench
#   gnuplot-nox        benchmark plots (the bench smoke test renders one)
#   dnsdist dnsutils   couic-dnsdist integration tests (real dnsdist 1.7.3; dig for manual checks)
#   prometheus         promtool check metrics in the metrics test (installed without recommends)
#   systemd            systemd-analyze verify of packaging/couic.service
# Needs root and apt-get; otherwise it names what is missing and carries on (the tests
# that need a missing tool then fail or skip with that reason).
set -euo pipefail

PACKAGES="protobuf-compiler nats-server clang llvm libbpf-dev libbpf1 bpftool iproute2 iputils-ping python3 gnuplot-nox dnsdist dnsutils systemd"
# Only for its promtool: without recommends (no exporters, no web assets beyond its own).
LEAN_PACKAGES="prometheus"
missing=()
for tool in protoc nats-server clang bpftool ip ping python3 gnuplot dnsdist dig promtool systemd-analyze; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -e /usr/include/bpf/bpf_helpers.h ] || missing+=("libbpf-dev")
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing Debian packages (missing: ${missing[*]})" >&2
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES >/dev/null
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $LEAN_PACKAGES >/dev/null
else
  echo "system-deps: missing ${missing[*]}; install as root: apt-get install -y $PACKAGES $LEAN_PACKAGES" >&2
fi
