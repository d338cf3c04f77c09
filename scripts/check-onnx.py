#!/usr/bin/python3
"""onnx.checker over exported graphs: every file must pass check_model with full_check (the operator
schemas of its opset and shape inference), as ONNX's own tools read them.

Run with Debian's python3-onnx:  /usr/bin/python3 scripts/check-onnx.py FILE.onnx|DIR ...
(`npm run test:onnx-checker` writes every exported shape with scripts/write-onnx-samples.ts and checks it.)
Prints one line per file and 'N passed, N failed'; exits 1 if any failed.
"""
import pathlib, sys
import onnx

files = []
for a in sys.argv[1:]:
    p = pathlib.Path(a)
    files += sorted(p.glob('*.onnx')) if p.is_dir() else [p]
if not files:
    sys.exit('check-onnx.py: no .onnx files given')
failed = 0
for f in files:
    try:
        model = onnx.load(str(f))
        onnx.checker.check_model(model, full_check=True)
        print(f'ok {f} (opset {model.opset_import[0].version}, IR {model.ir_version}, {len(model.graph.node)} nodes)')
    except Exception as e:  # the checker's own exceptions and a file it cannot parse
        failed += 1
        print(f'FAILED {f}: {str(e).splitlines()[0] if str(e) else type(e).__name__}')
print(f'checker: {len(files) - failed} passed, {failed} failed')
sys.exit(1 if failed else 0)
