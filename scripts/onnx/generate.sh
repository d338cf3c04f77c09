#!/usr/bin/env bash
# Regenerates src/onnx/onnx_pb.ts from scripts/onnx/onnx.proto (ONNX 1.12's schema, IR version 8, copied
# from Debian's python3-onnx: /usr/lib/python3/dist-packages/onnx/onnx.proto) with protoc-gen-es, the code
# generator of @bufbuild/protobuf (a devDependency). Needs protoc (Debian: apt-get install protobuf-compiler).
set -euo pipefail
cd "$(dirname "$0")"
protoc --plugin=protoc-gen-es=../../node_modules/.bin/protoc-gen-es --es_out=../../src/onnx --es_opt=target=ts,import_extension=js onnx.proto
