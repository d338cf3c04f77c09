// `recurrent studio`: serves the studio page (web/) and the package's own compiled files over loopback, with
// the cross-origin isolation headers (COOP/COEP: training in the page gets worker threads) and a
// Content-Security-Policy that allows nothing off the origin; or, with --export DIR, writes the same site
// as static files. --checkpoint DIR... lists command-line checkpoints for the page to open.
// The page and its worker are web/*.ts, compiled by the project's tsc to dist/web/ and served as they are.

import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, extname, join, normalize, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCorpusPath } from '../src/data/default-corpus.js';
import { readCommitted } from '../src/train/checkpoint-directory.js';
import { UsageError, int, parse, str } from './args.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'); // dist/cli -> the package

export const STUDIO_HELP = `recurrent studio: train in the browser without freezing the page, and see what the network learned

  recurrent studio [--port N] [--host H] [--checkpoint DIR ...]
  recurrent studio --export DIR [--checkpoint DIR ...]

  --port N          the port to serve on (default 8470; 0: any free one)
  --host H          the address to bind (default 127.0.0.1: this machine only)
  --checkpoint DIR  a checkpoint directory (recurrent train or seq2seq train) the page lists to open; repeat for more
  --export DIR      write the page as static files to DIR instead of serving it (host them anywhere; for worker
                    threads the host must send the headers in DIR/_headers)`;

/** Nothing off the origin: scripts, styles, workers, fetches and images from the page's own server only. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'", "img-src 'self' blob: data:", "connect-src 'self'",
  "worker-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

export const STUDIO_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.txt': 'text/plain; charset=utf-8', '.c': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

const CHECKPOINT_FILES = ['config.json', 'model.safetensors', 'training.safetensors'];

export interface ServedCheckpoint {
  name: string;
  dir: string;
  files: string[];
}

/** The page's files by URL path (without the compiled modules under dist/): the page, its style, icon and presets. */
function pageFiles(): Map<string, string> {
  return new Map([
    ['/index.html', join(ROOT, 'web', 'index.html')],
    ['/studio.css', join(ROOT, 'web', 'studio.css')],
    ['/favicon.svg', join(ROOT, 'web', 'favicon.svg')],
    ['/samples/moby-dick.txt', defaultCorpusPath()],
    ['/samples/kernels.c', join(ROOT, 'src', 'backend', 'native', 'kernels.c')],
  ]);
}

/** Whether a compiled file under dist/ is part of the site: the library's and the page's modules and kernels. */
function isSiteModule(rel: string): boolean {
  return /^dist\/(src|web)\/.+\.(js|wasm)$/.test(rel.split(sep).join('/'));
}

/** The checkpoint directories, checked: each must hold config.json and model.safetensors. */
export function servedCheckpoints(dirs: readonly string[]): ServedCheckpoint[] {
  return dirs.map((dir) => {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`--checkpoint ${dir} is not a directory`);
    const files = CHECKPOINT_FILES.filter((f) => existsSync(join(dir, f)));
    for (const need of ['config.json', 'model.safetensors']) if (!files.includes(need)) throw new Error(`--checkpoint ${dir} has no ${need}: it is not a checkpoint directory`);
    return { name: dir, dir: resolve(dir), files };
  });
}

function handler(checkpoints: readonly ServedCheckpoint[]): (req: IncomingMessage, res: ServerResponse) => void {
  const pages = pageFiles();
  const listing = JSON.stringify(checkpoints.map((c) => ({ name: c.name, files: c.files })));
  return (req, res) => {
    for (const [k, v] of Object.entries(STUDIO_HEADERS)) res.setHeader(k, v);
    res.setHeader('Cache-Control', 'no-cache');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      path = '';
    }
    if (path === '/') path = '/index.html';
    const send = (type: string, body: Buffer | string): void => {
      res.setHeader('Content-Type', type);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path === '/checkpoints.json') return send(TYPES['.json'], listing);
    const ck = /^\/checkpoints\/(\d+)\/([^/]+)$/.exec(path);
    let file: string | undefined;
    if (ck !== null) {
      // A checkpoint's file as its readers see it: mid-save, the version its commit record names.
      const c = checkpoints[Number(ck[1])];
      let body: Buffer | null = null;
      try {
        body = c !== undefined && c.files.includes(ck[2]) ? readCommitted(c.dir, ck[2]) : null;
      } catch (e) {
        // A commit record not recurrent's, or a file it cannot read: this answer fails, the server goes on.
        res.statusCode = 500;
        return send(TYPES['.txt'], `${e instanceof Error ? e.message : String(e)}\n`);
      }
      if (body !== null) return send(TYPES[extname(ck[2])] ?? 'application/octet-stream', body);
    } else if (pages.has(path)) file = pages.get(path);
    else {
      const full = normalize(join(ROOT, path));
      const rel = relative(ROOT, full);
      if (!rel.startsWith('..') && isSiteModule(rel)) file = full;
    }
    if (file === undefined || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      send(TYPES['.txt'], `not found: ${path}\n`);
      return;
    }
    send(TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  };
}

/** Serves the studio; resolves once it listens (a port in use rejects with one line naming it). */
export function startStudio(o: { port: number; host: string; checkpoints: readonly ServedCheckpoint[] }): Promise<{ server: Server; url: string }> {
  const server = createServer(handler(o.checkpoints));
  return new Promise((resolvePromise, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new Error(`port ${o.port} on ${o.host} is in use: pass another --port (0 picks a free one)`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new Error(`--host ${o.host} is not an address of this machine`));
      else if (e.code === 'EACCES') reject(new Error(`port ${o.port} on ${o.host} needs privileges: pass a --port above 1023`));
      else reject(e);
    });
    server.listen(o.port, o.host, () => {
      const port = (server.address() as { port: number }).port;
      const host = o.host.includes(':') ? `[${o.host}]` : o.host;
      resolvePromise({ server, url: `http://${host}:${port}/` });
    });
  });
}

/** Writes the site to `dir` as static files (the same paths the server serves); returns how many files. */
export function exportStudio(dir: string, checkpoints: readonly ServedCheckpoint[]): number {
  let n = 0;
  const put = (rel: string, from: string | null, body?: string): void => {
    const to = join(dir, rel);
    mkdirSync(dirname(to), { recursive: true });
    if (from !== null) copyFileSync(from, to);
    else writeFileSync(to, body!);
    n++;
  };
  for (const [path, file] of pageFiles()) put(path.slice(1), file);
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
      const r = join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (isSiteModule(r)) put(r, join(ROOT, r));
    }
  };
  walk(join('dist', 'src'));
  walk(join('dist', 'web'));
  checkpoints.forEach((c, i) => {
    for (const f of c.files) put(join('checkpoints', String(i), f), join(c.dir, f));
  });
  put('checkpoints.json', null, JSON.stringify(checkpoints.map((c) => ({ name: c.name, files: c.files }))));
  // Netlify's and Cloudflare Pages' format; other hosts need the same headers set their own way.
  put('_headers', null, `/*\n${Object.entries(STUDIO_HEADERS).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
  return n;
}

export async function studio(argv: string[]): Promise<number> {
  const v = parse(argv, {
    port: { type: 'string' }, host: { type: 'string' }, checkpoint: { type: 'string', multiple: true }, export: { type: 'string' },
  });
  const checkpoints = servedCheckpoints((v.checkpoint as unknown as string[] | undefined) ?? []);
  const out = str(v, 'export');
  if (out !== undefined) {
    for (const k of ['port', 'host']) if (v[k] !== undefined) throw new UsageError(`--${k} does not apply to --export, which writes files and serves nothing`);
    if (existsSync(out) && readdirSync(out).length > 0) throw new UsageError(`--export ${out} is not empty; give a new or empty directory`);
    const n = exportStudio(out, checkpoints);
    process.stdout.write(`recurrent studio: wrote ${n} files to ${out} (open it through any web server; ${join(out, '_headers')} lists the headers that give training its threads)\n`);
    return 0;
  }
  const port = int(v, 'port', 8470, 0);
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got "${port}"`);
  const host = str(v, 'host') ?? '127.0.0.1';
  const { server, url } = await startStudio({ port, host, checkpoints });
  process.stdout.write(`recurrent studio: ${url}\n`);
  for (const c of checkpoints) process.stdout.write(`  checkpoint ${c.name} (${c.files.join(', ')})\n`);
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) process.stdout.write(`  note: bound to ${host}, so other machines can reach it\n`);
  process.stdout.write('  Ctrl-C stops it\n');
  await new Promise<void>((r) => {
    process.once('SIGINT', () => server.close(() => r()));
    process.once('SIGTERM', () => server.close(() => r()));
  });
  return 0;
}
