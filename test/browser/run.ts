// `npm run test:browser`: the library in headless Chromium. Serves the repository over loopback — the
// built dist/, this folder's page, and through an import map the two packages recurrent/onnx and its check
// reach by name (@bufbuild/protobuf, onnxruntime-web) — once as a cross-origin isolated page (COOP/COEP headers, so
// SharedArrayBuffer exists) and once as a plain one, loads test/browser/page.js on the page's main
// thread and in a module Web Worker, and asserts on the reports the page posts back (checks.ts).
// Needs Chromium (Debian: apt-get install chromium; or CHROMIUM=/path/to/chrome); without it this
// fails naming what is missing. No network beyond 127.0.0.1, no browser download.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report } from './checks.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'); // dist/test/browser -> repo
const CHROMIUM = process.env.CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
const TIMEOUT_MS = 120_000;
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.map': 'application/json' };

/**
 * The packages the page reaches by name, served from node_modules through an import map: recurrent/onnx's one
 * dependency, and onnxruntime-web, which runs the exported graphs (its wasm build, next to its module).
 */
const PACKAGES = ['node_modules/@bufbuild/protobuf/dist/esm/', 'node_modules/onnxruntime-web/dist/'];
const IMPORT_MAP = JSON.stringify({
  imports: {
    '@bufbuild/protobuf': './node_modules/@bufbuild/protobuf/dist/esm/index.js',
    '@bufbuild/protobuf/codegenv2': './node_modules/@bufbuild/protobuf/dist/esm/codegenv2/index.js',
    'onnxruntime-web': './node_modules/onnxruntime-web/dist/ort.wasm.min.mjs',
  },
});

/** One page load: its URL path prefix decides whether the responses carry the isolation headers. */
const CASES = [
  { name: 'isolated page, main thread', path: '/isolated/', query: '', isolated: true },
  { name: 'isolated page, Web Worker', path: '/isolated/', query: '?worker', isolated: true },
  { name: 'plain page, main thread', path: '/plain/', query: '', isolated: false },
];

let waiting: ((r: Report) => void) | null = null;

function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method === 'POST' && url.pathname === '/result') {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      res.end('ok');
      waiting?.(JSON.parse(body) as Report);
    });
    return;
  }
  const isolated = url.pathname.startsWith('/isolated/');
  const rest = url.pathname.replace(/^\/(isolated|plain)\//, '/');
  if (isolated) {
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  }
  if (rest === '/' || rest === '/index.html') {
    res.setHeader('Content-Type', 'text/html');
    res.end(`<!doctype html><meta charset="utf-8"><title>recurrent</title><script type="importmap">${IMPORT_MAP}</script><script type="module" src="dist/test/browser/page.js"></script>`);
    return;
  }
  const file = normalize(join(ROOT, rest));
  const served = [join(ROOT, 'dist') + '/', ...PACKAGES.map((p) => join(ROOT, p))];
  if (!served.some((dir) => file.startsWith(dir)) || !existsSync(file)) {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
  res.end(readFileSync(file));
}

async function load(port: number, c: (typeof CASES)[number]): Promise<Report> {
  const profile = mkdtempSync(join(tmpdir(), 'recurrent-chromium-'));
  const args = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, `http://127.0.0.1:${port}${c.path}${c.query}`,
  ];
  const browser = spawn(CHROMIUM!, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true }); // its own process group: killed whole
  let stderr = '';
  browser.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4000)));
  try {
    return await new Promise<Report>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`${c.name}: no report within ${TIMEOUT_MS / 1000} s; Chromium said:\n${stderr}`)), TIMEOUT_MS);
      browser.on('exit', (code) => reject(new Error(`${c.name}: Chromium exited (${code}) before reporting:\n${stderr}`)));
      waiting = (r) => {
        clearTimeout(timer);
        resolvePromise(r);
      };
    });
  } finally {
    waiting = null;
    const exited = new Promise((r) => (browser.exitCode !== null ? r(null) : browser.once('exit', r)));
    try {
      process.kill(-browser.pid!, 'SIGKILL'); // Chromium's renderer and helper processes too
    } catch {
      // already gone
    }
    await exited;
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

async function main(): Promise<number> {
  if (CHROMIUM === undefined || !existsSync(CHROMIUM)) {
    process.stderr.write('test:browser: no Chromium found (apt-get install chromium, or set CHROMIUM=/path/to/chrome)\n');
    return 1;
  }
  const server = createServer(serve);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  let failed = 0;
  try {
    for (const c of CASES) {
      const report = await load(port, c);
      const mismatch = report.isolated !== c.isolated;
      process.stdout.write(`${c.name} (${report.context}, crossOriginIsolated ${report.isolated})\n`);
      if (mismatch) {
        failed++;
        process.stdout.write(`  not ok: expected crossOriginIsolated ${c.isolated}\n`);
      }
      for (const k of report.checks) {
        if (!k.ok) failed++;
        process.stdout.write(`  ${k.ok ? 'ok' : 'not ok'}: ${k.name}: ${k.detail.split('\n').join('\n      ')}\n`);
      }
    }
  } finally {
    server.close();
  }
  process.stdout.write(failed === 0 ? 'test:browser: all checks passed\n' : `test:browser: ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`test:browser: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
