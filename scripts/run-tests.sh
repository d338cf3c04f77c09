#!/bin/sh
# npm test (after the build): every kernel, layer and numeric suite on every backend — the reference, wasm,
# the wasm build with relaxed SIMD (the suites that compare kernels) and native — and the command-line suites
# (test/*-cli.test.ts: they test what the commands do, not the kernels under them) once, on the fastest
# backend there is. Nothing here needs the network, Python or ../shared.
set -e
cd "$(dirname "$0")/.."
numeric=$(ls dist/test/*.test.js | grep -v -- '-cli\.test\.js$')
commands=$(ls dist/test/*-cli.test.js)
relaxed="backend-kernels parity recurrent-gradcheck recurrent-tape attention-fixtures recurrent-loop transformer-kernels transformer-fixtures image-kernels image-layers conv-fixtures"
RECURRENT_BACKEND=reference node --test --test-concurrency=2 $numeric
RECURRENT_BACKEND=wasm node --test --test-concurrency=2 $numeric
RECURRENT_BACKEND=wasm node --experimental-wasm-relaxed-simd --test --test-concurrency=2 $(for f in $relaxed; do echo "dist/test/$f.test.js"; done)
if [ -f build/Release/recurrent_native.node ] || [ -n "$CI" ]; then
  RECURRENT_BACKEND=native node --test --test-concurrency=2 $numeric $commands
else
  echo 'npm test: the native kernels are not built, so their pass is skipped; the command-line suites run on wasm'
  RECURRENT_BACKEND=wasm node --test --test-concurrency=2 $commands
fi
