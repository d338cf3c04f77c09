// `recurrent studio` and `recurrent cells` from the command line: the server's headers (COOP/COEP, a CSP
// that allows nothing off the origin), what it serves and refuses, the checkpoints it lists, a port in use
// and a bad --checkpoint as one line each; --export writes the site the server serves; `cells` prints the
// best cells per feature and writes its page, and refuses a bad regular expression before reading anything.
// The page itself runs in Chromium in `npm run test:studio` (test/studio/run.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENT_SECURITY_POLICY, exportStudio, servedCheckpoints, startStudio } from '../cli/studio.js';
import { assertOneLineError, runCli, smallCorpus, tempDir } from './util/cli.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'recurrent.js');

/** A small language-model checkpoint trained by the command line, shared by the tests below. */
function trainedCheckpoint(): { dir: string; data: string } {
  const tmp = tempDir();
  const data = join(tmp, 'corpus.txt');
  // Quotes and brackets every third line, so the first few hundred characters have them.
  writeFileSync(data, smallCorpus(400).split('\n').map((l, i) => (i % 3 === 0 ? `"${l}" (and [more])` : l)).join('\n'));
  const dir = join(tmp, 'run');
  const r = runCli(['train', '--data', data, '--hidden', '16', '--layers', '1', '--seq-length', '16', '--batch-size', '4', '--steps', '20', '--eval-every', '20', '--sample-length', '0', '--out', dir]);
  assert.equal(r.code, 0, r.stderr);
  return { dir, data };
}
const shared = trainedCheckpoint();

test('the studio server: isolation and CSP headers on every response, the page and its modules served, nothing else', async () => {
  const { server, url } = await startStudio({ port: 0, host: '127.0.0.1', checkpoints: servedCheckpoints([shared.dir]) });
  try {
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'self'/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /https?:|\*/, 'no other origin is allowed');
    const html = await page.text();
    assert.match(html, /<script type="module" src="dist\/web\/main.js"><\/script>/);
    // Every file the page names is served from the origin.
    for (const ref of [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])) {
      const r = await fetch(new URL(ref, url));
      assert.equal(r.status, 200, `${ref} is served`);
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
    }
    for (const [path, type] of [['dist/web/studio-worker.js', 'text/javascript'], ['dist/src/index.js', 'text/javascript'], ['dist/src/backend/wasm/kernels-shared.wasm', 'application/wasm'], ['samples/kernels.c', 'text/plain']]) {
      const r = await fetch(new URL(path, url));
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get('content-type')!, new RegExp(type.replace('/', '\\/')), path);
    }
    const moby = await (await fetch(new URL('samples/moby-dick.txt', url))).text();
    assert.match(moby.slice(0, 200), /Call me Ishmael/);
    // Not the package's other files, not outside it, not the tests, not writes.
    for (const path of ['package.json', 'dist/cli/main.js', 'dist/test/analysis.test.js', 'dist/src/index.d.ts', '%2e%2e/%2e%2e/etc/passwd', 'dist/../../package.json', 'checkpoints/1/config.json', 'checkpoints/0/metrics.jsonl']) {
      assert.equal((await fetch(new URL(path, url))).status, 404, path);
    }
    assert.equal((await fetch(url, { method: 'POST', body: 'x' })).status, 405);
    // The checkpoints given with --checkpoint, listed and served.
    const listing = (await (await fetch(new URL('checkpoints.json', url))).json()) as { name: string; files: string[] }[];
    assert.deepEqual(listing, [{ name: shared.dir, files: ['config.json', 'model.safetensors', 'training.safetensors'] }]);
    const config = await (await fetch(new URL('checkpoints/0/config.json', url))).json() as { format: string };
    assert.equal(config.format, 'recurrent-language-model/1');
    assert.deepEqual(new Uint8Array(await (await fetch(new URL('checkpoints/0/model.safetensors', url))).arrayBuffer()), new Uint8Array(readFileSync(join(shared.dir, 'model.safetensors'))));
  } finally {
    server.close();
  }
});

test('the studio server serves a checkpoint as its readers see it: mid-save, the version the commit record names', async () => {
  const dir = join(tempDir(), 'run');
  cpSync(shared.dir, dir, { recursive: true });
  // What a save killed between its commit record and its renames leaves: the new weights beside their place.
  const next = new Uint8Array(readFileSync(join(dir, 'model.safetensors')));
  next[next.length - 1] ^= 1;
  writeFileSync(join(dir, '.model.safetensors.next'), next);
  writeFileSync(join(dir, '.checkpoint-commit'), JSON.stringify(['model.safetensors']));
  const { server, url } = await startStudio({ port: 0, host: '127.0.0.1', checkpoints: servedCheckpoints([dir]) });
  try {
    assert.deepEqual(new Uint8Array(await (await fetch(new URL('checkpoints/0/model.safetensors', url))).arrayBuffer()), next);
    assert.deepEqual(new Uint8Array(await (await fetch(new URL('checkpoints/0/config.json', url))).arrayBuffer()), new Uint8Array(readFileSync(join(dir, 'config.json'))));
    // A commit record that is not recurrent's fails that request, in one line, and not the server.
    writeFileSync(join(dir, '.checkpoint-commit'), '{"not": "a list"}');
    const bad = await fetch(new URL('checkpoints/0/model.safetensors', url));
    assert.equal(bad.status, 500);
    assert.match(await bad.text(), /^\S+\.checkpoint-commit is not a commit record of recurrent's; remove it if no run uses \S+\n$/);
    assert.equal((await fetch(url)).status, 200, 'the server still answers');
  } finally {
    server.close();
  }
});

test('recurrent studio prints its URL on 127.0.0.1; a port in use, a bad --checkpoint and --export with --port are one line each', async () => {
  const child = spawn(process.execPath, [main, 'studio', '--port', '0'], { env: { ...process.env, RECURRENT_DEBUG: '' } });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
      const m = /recurrent studio: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m !== null) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before printing its URL: ${out}`)));
  });
  try {
    assert.equal((await fetch(url)).status, 200);
    const port = new URL(url).port;
    assertOneLineError(runCli(['studio', '--port', port]), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use: pass another --port`), 1);
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.on('exit', r));
  }
  assert.equal(child.exitCode, 0, 'Ctrl-C stops it cleanly');
  // A port some other program holds.
  const other = createServer();
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  try {
    const port = String((other.address() as { port: number }).port);
    assertOneLineError(runCli(['studio', '--port', port]), /is in use/, 1);
  } finally {
    other.close();
  }
  assertOneLineError(runCli(['studio', '--checkpoint', tempDir()]), /--checkpoint .* has no config.json: it is not a checkpoint directory/, 1);
  assertOneLineError(runCli(['studio', '--checkpoint', '/nonexistent/dir']), /--checkpoint \/nonexistent\/dir is not a directory/, 1);
  assertOneLineError(runCli(['studio', '--export', join(tempDir(), 'site'), '--port', '9000']), /--port does not apply to --export/, 2);
  assertOneLineError(runCli(['studio', '--port', '70000']), /--port must be at most 65535/, 2);
});

test('recurrent studio --export writes the served site as static files, the checkpoints and the headers included', async () => {
  const out = join(tempDir(), 'site');
  const r = runCli(['studio', '--export', out, '--checkpoint', shared.dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote \d+ files to/);
  for (const f of ['index.html', 'studio.css', 'favicon.svg', 'samples/moby-dick.txt', 'samples/kernels.c', 'dist/web/main.js', 'dist/web/studio-worker.js', 'dist/src/index.js', 'dist/src/backend/wasm/kernels-relaxed-shared.wasm', 'checkpoints/0/model.safetensors']) {
    assert.ok(existsSync(join(out, f)), f);
  }
  assert.ok(!existsSync(join(out, 'dist/src/index.d.ts')) && !existsSync(join(out, 'dist/cli')) && !existsSync(join(out, 'dist/test')), 'only the site');
  assert.match(readFileSync(join(out, '_headers'), 'utf8'), /Cross-Origin-Embedder-Policy: require-corp/);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'checkpoints.json'), 'utf8')), [{ name: shared.dir, files: ['config.json', 'model.safetensors', 'training.safetensors'] }]);
  // Every module the server serves is in the export, byte for byte.
  const { server, url } = await startStudio({ port: 0, host: '127.0.0.1', checkpoints: [] });
  try {
    for (const f of readdirSync(join(out, 'dist', 'web'))) {
      const served = Buffer.from(await (await fetch(new URL(`dist/web/${f}`, url))).arrayBuffer());
      assert.ok(served.equals(readFileSync(join(out, 'dist', 'web', f))), f);
    }
  } finally {
    server.close();
  }
  assertOneLineError(runCli(['studio', '--export', out]), /is not empty/, 2);
  assert.equal(exportStudio(join(tempDir(), 'bare'), []) > 50, true);
});

test('recurrent cells: the best cells per feature with their correlations, a regular expression, and a coloured page', () => {
  const html = join(tempDir(), 'cells.html');
  const r = runCli(['cells', '--checkpoint', shared.dir, '--data', shared.data, '--split', 'all', '--length', '600', '--top', '2', '--regex', '/[aeiou]/i', '--html', html, '--html-length', '300']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^lstm 1×16 from .* \(step 20, trained on .*corpus.txt\) over the first 600 characters of .*corpus.txt, read in [\d.]+ s$/);
  const features = ['inside quotes', 'bracket depth', 'position in the line', 'start of a word', '/[aeiou]/i'];
  features.forEach((f, i) => assert.match(lines[1 + i], new RegExp(`^${f.replace(/[[\]/]/g, '\\$&')}: (layer 0 (h|tanh\\(c\\)) \\d+ r=[+-]\\d\\.\\d{3}(, |$)){2}`), lines[1 + i]));
  assert.match(lines.at(-1)!, /^wrote .*cells.html$/);
  const page = readFileSync(html, 'utf8');
  assert.equal([...page.matchAll(/<h2>/g)].length, 5);
  assert.match(page, /<span style="background:rgb\(\d+,\d+,\d+\)">/);
  assert.doesNotMatch(page, /<script|src=|href=/, 'self-contained: nothing to load');
  // The held-out split by default; a bad regular expression or a checkpoint of another kind is one line.
  const val = runCli(['cells', '--checkpoint', shared.dir, '--data', shared.data]);
  assert.equal(val.code, 0, val.stderr);
  assert.match(val.stdout, /over characters [\d,]+–[\d,]+ of .* \(its last 10%\)/);
  assertOneLineError(runCli(['cells', '--checkpoint', shared.dir, '--data', shared.data, '--regex', '(a']), /the regular expression \/\(a\/ is invalid/);
  assertOneLineError(runCli(['cells', '--checkpoint', shared.dir]), /cells needs --data FILE/, 2);
  // A Transformer language model has no cells to read: one line saying so.
  const gpt = join(tempDir(), 'gpt');
  const t = runCli(['train', '--data', shared.data, '--model', 'transformer', '--hidden', '8', '--layers', '1', '--heads', '2', '--context', '8', '--batch-size', '2', '--steps', '2', '--eval-every', '2', '--sample-length', '0', '--out', gpt]);
  assert.equal(t.code, 0, t.stderr);
  assertOneLineError(runCli(['cells', '--checkpoint', gpt, '--data', shared.data]), /is a Transformer language model: it has no cells .*its self-attention is the studio's Attention view/);
  assertOneLineError(runCli(['cells', '--checkpoint', shared.dir, '--data', shared.data, '--html-length', '5']), /--html-length applies to --html FILE/, 2);
});
