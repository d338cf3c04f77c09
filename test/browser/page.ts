// The browser test's page script: runs the checks on the page's main thread, or (?worker) in a module
// Web Worker, and posts the report to the test server (test/browser/run.ts).

import type { Report } from './checks.js';

async function main(): Promise<void> {
  const inWorker = new URLSearchParams(location.search).has('worker');
  let report: Report;
  try {
    if (inWorker) {
      const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
      report = await new Promise<Report>((resolve, reject) => {
        w.onmessage = (e: MessageEvent<Report>) => resolve(e.data);
        w.onerror = (e) => reject(new Error(`worker: ${e.message}`));
      });
    } else {
      const { runChecks } = await import('./checks.js');
      report = await runChecks('page main thread');
      // recurrent/onnx and onnxruntime-web are reached by name through the page's import map, which a module
      // Web Worker does not inherit: the ONNX check runs on the main thread.
      const { runOnnxChecks } = await import('./onnx-checks.js');
      report.checks.push(...(await runOnnxChecks()));
    }
  } catch (e) {
    report = { context: inWorker ? 'worker' : 'page', isolated: crossOriginIsolated, checks: [{ name: 'load', ok: false, detail: String((e as Error)?.stack ?? e) }] };
  }
  await fetch('/result', { method: 'POST', body: JSON.stringify(report) });
}

void main();
