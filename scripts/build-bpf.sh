#!/usr/bin/env bash
# Compiles the XDP programs in bpf/ into build/bpf/*.o (build output, not committed),
# against the system libbpf headers (Debian libbpf-dev). `npm run build:bpf`.
# --if-possible: skip with a note (exit 0) when clang or the headers are missing,
# so `npm test` still runs where the XDP tests will skip anyway.
# --stages: also build the cut-down variants of couic.bpf.c (COUIC_STAGE) that
# `bench/xdp.ts --breakdown` measures, into build/bpf/stages/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bpf
if [ "${1:-}" = "--if-possible" ]; then
  if ! command -v clang >/dev/null 2>&1 || [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
    echo "build-bpf: clang or libbpf-dev missing; XDP objects not built (XDP tests will skip)" >&2
    exit 0
  fi
fi
mkdir -p "$out"
# asm/types.h lives in the multiarch include dir on Debian.
multiarch=$(gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
for src in bpf/couic.bpf.c bpf/pass.bpf.c; do
  obj="$out/$(basename "$src" .c).o"
  clang -O2 -g -Wall -Werror -target bpf \
    -I bpf -I "/usr/include/$multiarch" -c "$src" -o "$obj"
done
if [ "${1:-}" = "--stages" ]; then
  mkdir -p "$out/stages"
  for stage in 0 1 2 3 10 11; do
    # Variants leave helpers unused on purpose.
    clang -O2 -g -Wall -Werror -Wno-unused-function -Wno-unused-variable -target bpf \
      -DCOUIC_STAGE=$stage -I bpf -I "/usr/include/$multiarch" -c bpf/couic.bpf.c -o "$out/stages/couic-stage$stage.bpf.o"
  done
  echo "build-bpf: stages $(ls $out/stages/*.o | tr '\n' ' ')"
fi
echo "build-bpf: $(ls $out/*.o | tr '\n' ' ')"
