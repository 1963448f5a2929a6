#!/usr/bin/env bash
# Regenerates src/generated/ (ts-proto types + nice-grpc service definitions) and
# the descriptor set used by server reflection. Needs protoc (Debian protobuf-compiler).
# The output is committed, so building and running couic never needs protoc.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc not found: apt-get install -y protobuf-compiler" >&2; exit 1; }
out=src/generated
rm -rf "$out" && mkdir -p "$out"
protos=$(find proto -name '*.proto' | sort)
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=nice-grpc,outputServices=generic-definitions \
  --ts_proto_opt=esModuleInterop=true,importSuffix=.js,forceLong=number \
  --ts_proto_opt=useExactTypes=false,oneof=unions-value,env=node \
  -I proto -I /usr/include $protos
protoc --include_imports --descriptor_set_out="$out/couic.protoset" -I proto -I /usr/include $protos
echo "generated into $out"
