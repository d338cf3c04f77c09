// `npm run bench`: this library (every available backend) against the peers installed on the machine
// (PyTorch, TensorFlow.js cpu and wasm, brain.js) on the same work, one measuring child process per
// (system, task), repeated and interleaved; prints the tables and writes them with the machine's
// description to bench/RESULTS.md. Not here: the measurements themselves (ours.ts, peers/).
//
//   npm run bench                         S, CR, GRU, M, L; 3 repeats (about 20 minutes)
//   npm run bench -- --quick              S and CR, 1 repeat
//   npm run bench -- --configs S,CR --repeats 5 --budget 3 --systems torch,ours --out /tmp/r.md

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULT_PREFIX, type BenchCell, type ChildResult, type GemmFigure, type OkResult, type SystemOptions, type TaskSpec } from './protocol.js';

// --- where things are: this file runs as dist/bench/run.js ---
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BENCH = join(ROOT, 'bench');
const PYTHON = '/usr/bin/python3';
const SHAKESPEARE = resolve(ROOT, '..', 'shared', 'data', 'tinyshakespeare.txt');

// --- the work ---
interface Config {
  name: string;
  cell: BenchCell;
  hidden: number;
  layers: number;
  batch: number;
  /** T: the steps of a chunk; a Transformer's windows (its context). */
  seq: number;
  heads?: number;
}

const V = 65;
/** In running order: smaller first, so a slow system's larger steps can be projected from its smaller ones. */
const CONFIGS: Config[] = [
  { name: 'S', cell: 'lstm', hidden: 128, layers: 1, batch: 32, seq: 64 },
  { name: 'CR', cell: 'lstm', hidden: 128, layers: 2, batch: 50, seq: 50 },
  { name: 'GRU', cell: 'gru', hidden: 128, layers: 2, batch: 50, seq: 50 },
  { name: 'M', cell: 'lstm', hidden: 256, layers: 2, batch: 32, seq: 64 },
  { name: 'L', cell: 'lstm', hidden: 512, layers: 2, batch: 64, seq: 100 },
  // nanoGPT's CPU configuration (shakespeare_char: 4 layers, 4 heads, width 128, context 64, batch 12), and one larger.
  { name: 'T', cell: 'transformer', hidden: 128, layers: 4, heads: 4, batch: 12, seq: 64 },
  { name: 'TL', cell: 'transformer', hidden: 256, layers: 6, heads: 8, batch: 16, seq: 128 },
];
/** Batch-1 sampling is measured on these. */
const SAMPLE_CONFIGS = ['CR', 'T'];
const TRANSFORMERS = CONFIGS.filter((c) => c.cell === 'transformer').map((c) => c.name);
const GEMM_SIZES = [256, 512];

/** A step projected slower than this (from the same system's smaller configurations) is skipped. */
const SKIP_STEP_SEC = 30;
/** A measurement that took longer than this (wall, whole child) in the first repeat is not repeated. */
const NO_REPEAT_SEC = 35;
/** A child still running after this is killed and its measurement recorded as timed out. */
const CHILD_TIMEOUT_SEC = 240;

// --- command line ---
interface Args {
  quick: boolean;
  configs: Config[];
  repeats: number;
  budgetSec: number;
  systems: string[] | null;
  out: string;
  setup: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, configs: CONFIGS, repeats: 3, budgetSec: 4, systems: null, out: join(BENCH, 'RESULTS.md'), setup: true };
  let configsGiven = false;
  let repeatsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    switch (k) {
      case '--quick':
        a.quick = true;
        break;
      case '--configs': {
        const names = value().split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
        const unknown = names.filter((n) => !CONFIGS.some((c) => c.name === n));
        if (unknown.length > 0) throw new Error(`--configs: unknown ${unknown.join(', ')} (valid: ${CONFIGS.map((c) => c.name).join(', ')})`);
        a.configs = CONFIGS.filter((c) => names.includes(c.name));
        configsGiven = true;
        break;
      }
      case '--repeats':
        a.repeats = Number(value());
        if (!Number.isInteger(a.repeats) || a.repeats < 1) throw new Error(`--repeats must be a positive integer, got ${argv[i]}`);
        repeatsGiven = true;
        break;
      case '--budget':
        a.budgetSec = Number(value());
        if (!(a.budgetSec > 0)) throw new Error(`--budget must be a positive number of seconds, got ${argv[i]}`);
        break;
      case '--systems':
        a.systems = value().split(',').map((s) => s.trim()).filter((s) => s !== '');
        break;
      case '--out':
        a.out = resolve(value());
        break;
      case '--no-setup':
        a.setup = false;
        break;
      case '--help':
      case '-h':
        process.stdout.write(`usage: npm run bench -- [--quick] [--configs ${CONFIGS.map((c) => c.name).join(',')}] [--repeats N] [--budget SEC] [--systems ID,...] [--out FILE] [--no-setup]\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${k} (try --help)`);
    }
  }
  if (a.quick) {
    if (!configsGiven) a.configs = CONFIGS.filter((c) => c.name === 'S' || c.name === 'CR');
    if (!repeatsGiven) a.repeats = 1;
  }
  return a;
}

// --- the systems ---
type Task = 'train' | 'sample' | 'gemm' | 'idle';

interface System {
  id: string;
  label: string;
  cmd: string;
  /** Arguments before the script (engine flags). */
  cmdArgs: string[];
  script: string;
  env: NodeJS.ProcessEnv;
  opts: SystemOptions;
  tasks: ReadonlySet<Task>;
  /** Trains one sequence at a time: B is 1 whatever the configuration says. */
  batchOne: boolean;
  /** Configurations skipped up front, with the reason. */
  skip: ReadonlyMap<string, string>;
  describe: string;
}

interface Note {
  what: string;
  why: string;
}

function nodeSystem(id: string, label: string, script: string, opts: SystemOptions, tasks: Task[], describe: string, extra: Partial<System> = {}): System {
  // RECURRENT_BACKEND picks our default backend at import; the child sets its backend itself.
  const env = { ...process.env };
  delete env.RECURRENT_BACKEND;
  return { id, label, cmd: process.execPath, cmdArgs: [], script, env, opts, tasks: new Set(tasks), batchOne: false, skip: new Map(), describe, ...extra };
}

/** Node 20 and 21 have WebAssembly relaxed SIMD behind this flag (cli/recurrent.ts sets it too); later versions ship it. */
const RELAXED_FLAG = [20, 21].includes(Number(process.versions.node.split('.')[0])) ? ['--experimental-wasm-relaxed-simd'] : [];

function discoverSystems(notes: Note[]): System[] {
  const systems: System[] = [];
  const ours = join(ROOT, 'dist', 'bench', 'ours.js');
  const list = spawnSync(process.execPath, [ours, '--list-backends'], { encoding: 'utf8' });
  const lines = list.stdout.split('\n').filter((l) => l.startsWith(RESULT_PREFIX)).map((l) => JSON.parse(l.slice(RESULT_PREFIX.length)) as unknown);
  const backends = lines.length === 0 ? ['reference'] : (lines[0] as string[]);
  const nativeIsa = (lines[1] as { nativeIsa?: string | null } | undefined)?.nativeIsa ?? null;
  for (const b of backends) {
    const skip = new Map<string, string>();
    if (b === 'reference') {
      for (const c of ['M', 'L', 'TL']) skip.set(c, 'the reference backend is the slow definition of each kernel: M, L and TL would take minutes per step');
    }
    systems.push(nodeSystem(`ours-${b}`, `recurrent (${b})`, ours, { backend: b }, ['train', 'sample', 'gemm', 'idle'],
      `this library, backend \`${b}\`: LanguageModel (Embedding → fused LSTM/GRU → Linear) or TransformerLanguageModel, the training step of src/train/engine.ts on the language-model task; sampling through generateText (a Transformer's through its key/value cache)${b === 'reference' ? ' (reference backend: plain TypeScript loops, time-boxed)' : ''}`,
      // As the `recurrent` command runs: with relaxed SIMD (the FMA GEMM) where Node 20 has it behind a flag.
      { skip, cmdArgs: RELAXED_FLAG }));
    if (b === 'native' && nativeIsa === 'avx512') {
      // The same backend with its 256-bit GEMM kernels (the path of a CPU without AVX-512), interleaved with the 512-bit one.
      const s = nodeSystem('ours-native-avx2', 'recurrent (native, AVX2 GEMM)', ours, { backend: b }, ['train', 'sample', 'gemm', 'idle'],
        'this library, backend `native` with RECURRENT_NO_AVX512=1: the same, its GEMM on the 256-bit kernels instead of the 512-bit ones', { cmdArgs: RELAXED_FLAG });
      systems.push({ ...s, env: { ...s.env, RECURRENT_NO_AVX512: '1' } });
    }
  }

  const torchProbe = existsSync(PYTHON) ? spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }) : null;
  if (torchProbe === null || torchProbe.status !== 0) {
    notes.push({ what: 'PyTorch', why: torchProbe === null ? `${PYTHON} is absent` : `${PYTHON} cannot import torch (apt-get install python3-torch)` });
  } else {
    // OpenBLAS tuning variables are dropped for this child only: OpenBLAS picks the core type itself.
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    const script = join(BENCH, 'peers', 'torch_bench.py');
    const describe = 'PyTorch (Debian python3-torch, CPU): Embedding → nn.LSTM/nn.GRU → Linear, or the GPT twin (nn.Embedding ×2 → nn.TransformerEncoder of nn.TransformerEncoderLayer(norm_first, gelu) with a causal mask → LayerNorm → Linear), cross_entropy, backward, clip_grad_norm_(5), Adam — scripts/char-rnn-torch.py\'s step; a Transformer samples with a key/value cache written out on the layers\' weights (nn.TransformerEncoderLayer has none), the fastest PyTorch loop we have';
    systems.push({ id: 'torch-2t', label: 'PyTorch, 2 threads', cmd: PYTHON, cmdArgs: [], script, env, opts: { threads: 2 }, tasks: new Set(['train', 'sample', 'gemm', 'idle']), batchOne: false, skip: new Map(), describe });
    systems.push({ id: 'torch-1t', label: 'PyTorch, 1 thread', cmd: PYTHON, cmdArgs: [], script, env, opts: { threads: 1 }, tasks: new Set(['train', 'sample']), batchOne: false, skip: new Map(), describe: `${describe}; torch.set_num_threads(1)` });
  }

  const tfjs = join(BENCH, 'node_modules', '@tensorflow', 'tfjs', 'package.json');
  const tfjsWasm = join(BENCH, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'package.json');
  const tfDescribe = 'TensorFlow.js layers API: embedding → stacked tf.layers.lstm/gru (returnSequences) → dense, custom loop: variableGrads, global-norm clip 5, tf.train.adam';
  if (!existsSync(tfjs)) notes.push({ what: 'TensorFlow.js', why: 'bench/node_modules has no @tensorflow/tfjs (npm run bench:setup)' });
  else {
    const noTransformer = new Map(TRANSFORMERS.map((c) => [c, 'TensorFlow.js exports no Transformer or multi-head attention layer (tf.layers has none)']));
    systems.push(nodeSystem('tfjs-cpu', 'TF.js cpu', join(BENCH, 'peers', 'tfjs.mjs'), { backend: 'cpu' }, ['train', 'sample', 'gemm', 'idle'], `${tfDescribe}; backend cpu (plain JavaScript kernels)`, { skip: noTransformer }));
    if (!existsSync(tfjsWasm)) notes.push({ what: 'TensorFlow.js wasm', why: 'bench/node_modules has no @tensorflow/tfjs-backend-wasm' });
    else systems.push(nodeSystem('tfjs-wasm', 'TF.js wasm', join(BENCH, 'peers', 'tfjs.mjs'), { backend: 'wasm' }, ['train', 'sample', 'gemm', 'idle'], `${tfDescribe}; backend wasm (XNNPACK, SIMD; one thread — Node has no multithreaded build of it); its training input is one-hot → dense(H, no bias), because the wasm backend lacks the kernel (UnsortedSegmentSum) of the embedding's gradient`, { skip: noTransformer }));
  }

  if (!existsSync(join(BENCH, 'node_modules', 'brain.js', 'package.json'))) notes.push({ what: 'brain.js', why: 'bench/node_modules has no brain.js (npm run bench:setup)' });
  else {
    systems.push(nodeSystem('brain', 'brain.js (B=1)', join(BENCH, 'peers', 'brain.mjs'), {}, ['train', 'sample', 'idle'],
      'brain.js 1.x brain.recurrent.LSTM/GRU, batch 1: its own trainPattern (one sequence of T ids from zero state, T + 1 steps, backprop, RMSProp with each gradient element clipped to ±5, no Adam, no global-norm clip); its LSTM keeps no separate cell state (c_t = f ⊙ h_{t−1} + i ⊙ g) and its GRU is Cho\'s form',
      { batchOne: true, skip: new Map(TRANSFORMERS.map((c) => [c, 'brain.js has no Transformer']) ) }));
  }
  return systems;
}

// --- running one child ---
interface Measurement {
  system: string;
  task: Task;
  config: string;
  repeat: number;
  result: ChildResult | { ok: false; error: string };
  wallSec: number;
  /** Cores the whole machine kept busy during the child (from /proc/stat); the child's own share is cpuSec / wallSec. */
  busyCores: number | null;
}

function cpuJiffies(): { busy: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const total = f.reduce((s, x) => s + x, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

function runChild(sys: System, spec: TaskSpec): Promise<{ result: ChildResult | { ok: false; error: string }; wallSec: number; busyCores: number | null }> {
  return new Promise((done) => {
    const t0 = performance.now();
    const j0 = cpuJiffies();
    const child = spawn(sys.cmd, [...sys.cmdArgs, sys.script, JSON.stringify({ ...spec, ...sys.opts })], { cwd: BENCH, env: sys.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_SEC * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const wallSec = (performance.now() - t0) / 1000;
      const j1 = cpuJiffies();
      const busyCores = j0 !== null && j1 !== null && j1.total > j0.total ? ((j1.busy - j0.busy) / (j1.total - j0.total)) * cpus().length : null;
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (timedOut) done({ result: { ok: false, error: `timed out after ${CHILD_TIMEOUT_SEC} s` }, wallSec, busyCores });
      else if (line === undefined) {
        const last = err.trim().split('\n').filter((l) => !/^\s+at /.test(l)).slice(-3).join(' | ');
        done({ result: { ok: false, error: `exit ${code}: ${last || 'no result line'}` }, wallSec, busyCores });
      } else done({ result: JSON.parse(line.slice(RESULT_PREFIX.length)) as ChildResult, wallSec, busyCores });
    });
  });
}

// --- data: tinyshakespeare's ids when ../shared has it, seeded random ids otherwise ---
function makeIds(dir: string): { idsFile: string; chars: string; source: string } {
  let ids: Uint8Array;
  let chars: string;
  let source: string;
  const text = existsSync(SHAKESPEARE) ? readFileSync(SHAKESPEARE, 'utf8') : null;
  const vocab = text === null ? [] : [...new Set(text)].sort();
  if (text !== null && vocab.length === V) {
    const index = new Map(vocab.map((c, i) => [c, i]));
    ids = Uint8Array.from(text, (c) => index.get(c)!);
    chars = vocab.join('');
    source = `${relative(ROOT, SHAKESPEARE)} (${ids.length} characters, ${V} distinct)`;
  } else {
    let x = 12345;
    ids = new Uint8Array(1 << 20);
    for (let i = 0; i < ids.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0; // LCG, seeded: the same ids every run
      ids[i] = (x >>> 16) % V;
    }
    chars = Array.from({ length: V }, (_, i) => String.fromCharCode(32 + i)).join('');
    source = `seeded random ids (${ids.length}, V = ${V})${text === null ? '' : `: ${relative(ROOT, SHAKESPEARE)} has ${vocab.length} distinct characters, not ${V}`}`;
  }
  const idsFile = join(dir, 'ids.bin');
  writeFileSync(idsFile, ids);
  return { idsFile, chars, source };
}

// --- statistics ---
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function count(x: number): string {
  return Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(1);
}

function mib(kb: number): string {
  return (kb / 1024).toFixed(0);
}

/** Floating-point operations of one training token: 3× the forward's multiply-adds (×2 flops each). */
function flopsPerToken(c: Config): number {
  if (c.cell === 'transformer') return 3 * 2 * (c.layers * (12 * c.hidden * c.hidden + c.seq * c.hidden) + c.hidden * V); // qkv, out, 2×4E feed-forward; scores and values average T/2 keys
  const gates = c.cell === 'lstm' ? 4 : 3;
  return 3 * 2 * (c.layers * gates * c.hidden * 2 * c.hidden + c.hidden * V);
}

// --- machine ---
function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim() : '';
}

function machine(): Array<[string, string]> {
  const osName = existsSync('/etc/os-release') ? (/PRETTY_NAME="?([^"\n]*)"?/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '') : '';
  const cpuModel = cpus()[0]?.model ?? '?';
  const lscpu = sh('lscpu', []);
  const flags = /Flags:\s+(.*)/.exec(lscpu)?.[1].split(' ') ?? [];
  const simd = ['avx2', 'avx512f', 'fma'].filter((f) => flags.includes(f)).join(', ');
  const cache = ['L2 cache', 'L3 cache'].map((k) => new RegExp(`${k}:\\s+(.*)`).exec(lscpu)?.[1]).filter((x) => x !== undefined).join(', ');
  return [
    ['CPU', `${cpuModel}${simd ? ` (${simd})` : ''}${cache ? `; ${cache}` : ''}`],
    ['cores', `${cpus().length} (as Node sees them)`],
    ['memory', `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`],
    ['OS', `${osName} (Linux ${release()})`],
    ['node', process.version],
    ['python', existsSync(PYTHON) ? `${sh(PYTHON, ['--version'])} (${PYTHON})` : 'absent'],
  ];
}

function peerVersions(): Array<[string, string]> {
  const v = (pkg: string): string => {
    const p = join(BENCH, 'node_modules', pkg, 'package.json');
    return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version : 'absent';
  };
  return [
    ['@tensorflow/tfjs', v('@tensorflow/tfjs')],
    ['@tensorflow/tfjs-backend-wasm', v('@tensorflow/tfjs-backend-wasm')],
    ['brain.js', v('brain.js')],
  ];
}

/** Processes other than this run that were using the CPU: `ps` at the start of each repeat. */
function busyOthers(): string[] {
  const r = spawnSync('ps', ['-eo', 'pid,ppid,pcpu,etimes,args', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const [, pid, ppid, pcpu, , args] = m;
    if (Number(pid) === process.pid || Number(ppid) === process.pid || Number(pcpu) < 20) continue;
    out.push(`${args.slice(0, 110)} (${pcpu}% of a core)`);
  }
  return out.slice(0, 4);
}

// --- peers' packages ---
function setupPeers(notes: Note[]): void {
  const have = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'brain.js'].every((p) => existsSync(join(BENCH, 'node_modules', p, 'package.json')));
  if (have) return;
  process.stderr.write('bench: installing the peers (bench/package.json) ...\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const cmd = existsSync(join(BENCH, 'package-lock.json')) ? 'ci' : 'install';
  const r = spawnSync(npm, [cmd, '--no-audit', '--no-fund'], { cwd: BENCH, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) notes.push({ what: 'peer install', why: `npm ${cmd} in bench/ failed (exit ${r.status}): the JavaScript peers that are missing are skipped` });
}

// --- main ---
async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const notes: Note[] = [];
  if (args.setup) setupPeers(notes);
  let systems = discoverSystems(notes);
  if (args.systems !== null) {
    const wanted = args.systems;
    systems = systems.filter((s) => wanted.some((w) => s.id === w || s.id.startsWith(`${w}-`) || s.id.startsWith(w)));
    if (systems.length === 0) throw new Error(`--systems ${wanted.join(',')} matches none of the systems found`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'recurrent-bench-'));
  const data = makeIds(tmp);
  const started = new Date();
  const t0 = performance.now();
  const mach = machine();
  const load0 = loadavg();
  const others = new Set<string>();
  const measurements: Measurement[] = [];
  const skipped = new Map<string, string>(); // `${system}|${task}|${config}` -> why
  const key = (s: string, t: Task, c: string): string => `${s}|${t}|${c}`;
  const log = (s: string): void => void process.stderr.write(`${s}\n`);

  log(`bench: ${systems.map((s) => s.id).join(', ')}; configs ${args.configs.map((c) => c.name).join(', ')}; ${args.repeats} repeat(s), ${args.budgetSec} s per measurement; data: ${data.source}`);
  for (const n of notes) log(`bench: skipped ${n.what}: ${n.why}`);

  const measure = async (sys: System, task: Task, config: string, repeat: number, spec: TaskSpec): Promise<void> => {
    const k = key(sys.id, task, config);
    if (skipped.has(k)) return;
    const r = await runChild(sys, spec);
    measurements.push({ system: sys.id, task, config, repeat, ...r });
    const res = r.result;
    let summary: string;
    if (res.ok) {
      const v = res.value !== undefined ? `${fmt(res.value)} ${task === 'train' ? 'tok/s' : 'chars/s'}${res.timeBoxed ? ' (time-boxed)' : ''}` : (res.gemm ?? []).map((g) => `${g.n}³ ${g.layout} ${g.threads}T ${fmt(g.gflops)}`).join(', ');
      summary = `${v}; RSS ${mib(res.maxRssKB)} MiB`;
    } else summary = 'skip' in res ? `skipped: ${res.skip}` : `FAILED: ${res.error}`;
    log(`  [${repeat}/${args.repeats}] ${task} ${config} ${sys.id}: ${summary} (${r.wallSec.toFixed(1)} s)`);
    if (!res.ok) skipped.set(k, 'skip' in res ? res.skip : res.error);
    else if (repeat === 1 && args.repeats > 1 && r.wallSec > NO_REPEAT_SEC) skipped.set(k, `not repeated: one measurement takes ${r.wallSec.toFixed(0)} s`);
  };

  /** Seconds per step of `sys` on `c`, projected from its fastest-measured smaller configuration. */
  const projectStep = (sys: System, c: Config): { sec: number; from: string } | null => {
    let best: { sec: number; from: string } | null = null;
    for (const m of measurements) {
      if (m.system !== sys.id || m.task !== 'train' || !m.result.ok || m.result.value === undefined) continue;
      const from = CONFIGS.find((x) => x.name === m.config)!;
      if (flopsPerToken(from) >= flopsPerToken(c)) continue;
      const tokens = sys.batchOne ? c.seq : c.batch * c.seq;
      const sec = (tokens / m.result.value) * (flopsPerToken(c) / flopsPerToken(from));
      if (best === null || sec < best.sec) best = { sec, from: m.config };
    }
    return best;
  };

  for (const sys of systems) {
    for (const c of args.configs) {
      const why = sys.skip.get(c.name);
      if (why !== undefined) skipped.set(key(sys.id, 'train', c.name), why);
    }
  }

  for (let repeat = 1; repeat <= args.repeats; repeat++) {
    for (const o of busyOthers()) others.add(o);
    if (repeat === 1) {
      for (const sys of systems) await measure(sys, 'idle', '-', 1, { task: 'idle' });
    }
    for (const c of args.configs) {
      for (const sys of systems) {
        if (!sys.tasks.has('train')) continue;
        const k = key(sys.id, 'train', c.name);
        // PyTorch is the yardstick of every ratio: never skipped on a projection (the child timeout still holds).
        if (!skipped.has(k) && repeat === 1 && !sys.id.startsWith('torch')) {
          const p = projectStep(sys, c);
          if (p !== null && p.sec > SKIP_STEP_SEC) skipped.set(k, `projected ${p.sec.toFixed(0)} s per step from its ${p.from} speed (limit ${SKIP_STEP_SEC} s)`);
        }
        await measure(sys, 'train', c.name, repeat, {
          task: 'train', cell: c.cell, hidden: c.hidden, layers: c.layers, vocab: V, batch: sys.batchOne ? 1 : c.batch, seq: c.seq,
          ...(c.heads === undefined ? {} : { heads: c.heads, context: c.seq }), budgetSec: args.budgetSec, idsFile: data.idsFile,
        });
      }
    }
    for (const sc of CONFIGS.filter((c) => SAMPLE_CONFIGS.includes(c.name))) {
      for (const sys of systems) {
        if (!sys.tasks.has('sample')) continue;
        const why = sys.skip.get(sc.name);
        if (why !== undefined) skipped.set(key(sys.id, 'sample', sc.name), why);
        await measure(sys, 'sample', sc.name, repeat, {
          task: 'sample', cell: sc.cell, hidden: sc.hidden, layers: sc.layers, vocab: V, budgetSec: args.budgetSec, chars: data.chars,
          ...(sc.heads === undefined ? {} : { heads: sc.heads, context: sc.seq }),
        });
      }
    }
    for (const sys of systems) {
      if (!sys.tasks.has('gemm')) continue;
      await measure(sys, 'gemm', '-', repeat, { task: 'gemm', sizes: GEMM_SIZES, budgetSec: Math.min(1, args.budgetSec) });
    }
  }
  for (const o of busyOthers()) others.add(o);
  rmSync(tmp, { recursive: true, force: true });
  const totalSec = (performance.now() - t0) / 1000;

  const report = renderReport({ args, systems, measurements, skipped, notes, data, mach, started, totalSec, load0, load1: loadavg(), others: [...others] });
  process.stdout.write(`${report.tables}\n`);
  writeFileSync(args.out, report.full);
  log(`bench: wrote ${relative(process.cwd(), args.out) || args.out} (${(totalSec / 60).toFixed(1)} min)`);
}

// --- the report ---
interface ReportInput {
  args: Args;
  systems: System[];
  measurements: Measurement[];
  skipped: Map<string, string>;
  notes: Note[];
  data: { source: string };
  mach: Array<[string, string]>;
  started: Date;
  totalSec: number;
  load0: number[];
  load1: number[];
  others: string[];
}

function renderReport(r: ReportInput): { tables: string; full: string } {
  const { args, systems, measurements } = r;
  const oks = (sys: string, task: Task, config: string): Array<{ repeat: number; res: OkResult; m: Measurement }> =>
    measurements.filter((m) => m.system === sys && m.task === task && m.config === config && m.result.ok).map((m) => ({ repeat: m.repeat, res: m.result as OkResult, m }));
  const torchIds = ['torch-2t', 'torch-1t'].filter((id) => systems.some((s) => s.id === id));
  /** Training is also compared per CPU-second, against PyTorch on one thread (which spends one core). */
  const cpuTorch = torchIds.filter((id) => id === 'torch-1t');
  /** Work per CPU-second of the timed steps (tokens or characters over cpuSeconds), NaN where the child did not say. */
  const perCpu = (res: OkResult): number => (res.value !== undefined && res.seconds !== undefined && res.cpuSeconds ? (res.value * res.seconds) / res.cpuSeconds : NaN);
  /** Median (min–max) over repeats of this system's figure divided by torch's in the same repeat. */
  const ratio = (sys: string, task: Task, config: string, torch: string, figure: (res: OkResult) => number = (res) => res.value ?? NaN): string => {
    const base = new Map(oks(torch, task, config).map((x) => [x.repeat, figure(x.res)]));
    const rs = oks(sys, task, config).map((x) => figure(x.res) / (base.get(x.repeat) ?? NaN)).filter(Number.isFinite);
    const f = (v: number): string => (v < 0.1 ? v.toFixed(3) : v.toFixed(2));
    return rs.length === 0 ? '—' : `${f(median(rs))}×${rs.length > 1 ? ` (${f(Math.min(...rs))}–${f(Math.max(...rs))})` : ''}`;
  };
  const failure = (sys: string, task: Task, config: string): string | null => r.skipped.get(`${sys}|${task}|${config}`) ?? null;
  const label = (id: string): string => systems.find((s) => s.id === id)?.label ?? id;
  const footnotes: string[] = [];
  const footnote = (text: string): string => {
    let i = footnotes.indexOf(text);
    if (i < 0) {
      footnotes.push(text);
      i = footnotes.length - 1;
    }
    return `[${i + 1}]`;
  };

  const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const valueCells = (sys: string, task: Task, config: string): string[] | null => {
    const xs = oks(sys, task, config);
    if (xs.length === 0) return null;
    const vs = xs.map((x) => x.res.value ?? NaN);
    const boxed = xs.some((x) => x.res.timeBoxed) ? ' †' : '';
    const range = vs.length > 1 ? `${fmt(Math.min(...vs))}–${fmt(Math.max(...vs))}` : '—';
    const rss = median(xs.map((x) => x.res.maxRssKB));
    const steps = median(xs.map((x) => x.res.count ?? 0));
    const note = failure(sys, task, config);
    const cpu = xs.map((x) => perCpu(x.res)).filter(Number.isFinite);
    const perCpuCells = task !== 'train' ? [] : [cpu.length === 0 ? '—' : fmt(median(cpu)), ...cpuTorch.map((t) => (t === sys ? '1×' : ratio(sys, task, config, t, perCpu)))];
    return [`${fmt(median(vs))}${boxed}`, range, `${xs.length}${note !== null ? ` ${footnote(note)}` : ''}`, ...torchIds.map((t) => (t === sys ? '1×' : ratio(sys, task, config, t))), ...perCpuCells, mib(rss), count(steps)];
  };

  // Training.
  const train: string[] = [];
  train.push(row(['config', 'system', 'tokens/s (median)', 'min–max', 'runs', ...torchIds.map((t) => `× ${label(t)}`),
    'tokens per CPU-second (median)', ...cpuTorch.map((t) => `× ${label(t)}, per CPU-second`), 'peak RSS MiB', 'timed steps']));
  train.push(row(Array(8 + torchIds.length + cpuTorch.length).fill('---')));
  for (const c of args.configs) {
    const shape = `${c.cell.toUpperCase()} ${c.layers}×${c.hidden}, B ${c.batch}, T ${c.seq}`;
    for (const s of systems) {
      if (!s.tasks.has('train')) continue;
      const cells = valueCells(s.id, 'train', c.name);
      const name = `${s.label}${s.batchOne ? `, B 1, T ${c.seq}` : ''}`;
      if (cells !== null) train.push(row([`${c.name} (${shape})`, name, ...cells]));
      else train.push(row([`${c.name} (${shape})`, name, `skipped ${footnote(failure(s.id, 'train', c.name) ?? 'not measured')}`, '', '', ...torchIds.map(() => ''), '', ...cpuTorch.map(() => ''), '', '']));
    }
  }

  // Sampling.
  const sample: string[] = [];
  sample.push(row(['config', 'system', 'chars/s (median)', 'min–max', 'runs', ...torchIds.map((t) => `× ${label(t)}`), 'peak RSS MiB', 'chars timed']));
  sample.push(row(Array(7 + torchIds.length).fill('---')));
  for (const sc of CONFIGS.filter((c) => SAMPLE_CONFIGS.includes(c.name))) {
    const shape = `${sc.cell.toUpperCase()} ${sc.layers}×${sc.hidden}${sc.cell === 'transformer' ? `, context ${sc.seq}` : ''}`;
    for (const s of systems) {
      if (!s.tasks.has('sample')) continue;
      const cells = valueCells(s.id, 'sample', sc.name);
      if (cells !== null) sample.push(row([`${sc.name} (${shape})`, s.label, ...cells]));
      else sample.push(row([`${sc.name} (${shape})`, s.label, `skipped ${footnote(failure(s.id, 'sample', sc.name) ?? 'not measured')}`, '', '', ...torchIds.map(() => ''), '', '']));
    }
  }

  // GEMM.
  const gemm: string[] = [];
  gemm.push(row(['system', 'C = A·B, threads', ...GEMM_SIZES.map((n) => `${n}³ GFLOP/s`), 'C = A·Bᵀ, threads', ...GEMM_SIZES.map((n) => `${n}³ GFLOP/s`)]));
  gemm.push(row(Array(3 + 2 * GEMM_SIZES.length).fill('---')));
  for (const s of systems) {
    if (!s.tasks.has('gemm')) continue;
    const runs = oks(s.id, 'gemm', '-');
    if (runs.length === 0) {
      gemm.push(row([s.label, `skipped ${footnote(failure(s.id, 'gemm', '-') ?? 'not measured')}`, ...Array(1 + 2 * GEMM_SIZES.length).fill('')]));
      continue;
    }
    const figs: GemmFigure[] = runs.flatMap((x) => x.res.gemm ?? []);
    const threads = [...new Set(figs.map((f) => f.threads))].sort();
    for (const th of threads) {
      const cell = (layout: 'NN' | 'NT', n: number): string => {
        const g = figs.filter((f) => f.layout === layout && f.n === n && f.threads === th).map((f) => f.gflops);
        return g.length === 0 ? '—' : `${fmt(median(g))}${g.length > 1 ? ` (${fmt(Math.min(...g))}–${fmt(Math.max(...g))})` : ''}`;
      };
      gemm.push(row([s.id.startsWith('torch') ? 'PyTorch (torch.mm)' : s.label, String(th), ...GEMM_SIZES.map((n) => cell('NN', n)), String(th), ...GEMM_SIZES.map((n) => cell('NT', n))]));
    }
  }
  const gemmNotes = systems
    .filter((s) => s.id.startsWith('ours-'))
    .flatMap((s) => oks(s.id, 'gemm', '-').slice(0, 1).flatMap((x) => x.res.notes ?? []));
  // The ceiling the wasm GEMM works under: one core's f32x4 FMA rate, measured in the same child.
  const fmaFigs = oks('ours-wasm', 'gemm', '-').flatMap((x) => x.res.fma ?? []);
  const fmaAt = (n: number): number[] => fmaFigs.filter((f) => f.chains === n).map((f) => f.gflops);
  if (fmaAt(12).length > 0) {
    const spread = (g: number[]): string => `${fmt(median(g))}${g.length > 1 ? ` (${fmt(Math.min(...g))}–${fmt(Math.max(...g))})` : ''}`;
    gemmNotes.push(
      `One core's f32x4 multiply-add rate (relaxed SIMD FMA, independent chains, no memory traffic; bench/assembly/fma-chains.ts): ` +
        `${spread(fmaAt(12))} GFLOP/s with 12 chains — the peak 128-bit SIMD allows here — and ${spread(fmaAt(8))} with 8, the accumulators of the 4×8 GEMM micro-kernel, whose FMA latency then binds.`,
    );
  }

  // Systems: what each ran, its floor of memory.
  const sysRows: string[] = [row(['system', 'what it runs', 'versions / backend', 'RSS after loading, MiB'])];
  sysRows.push(row(['---', '---', '---', '---']));
  for (const s of systems) {
    const idle = oks(s.id, 'idle', '-')[0];
    const anyInfo = measurements.find((m) => m.system === s.id && m.result.ok && m.task !== 'idle')?.result as OkResult | undefined;
    const info = { ...(idle?.res.info ?? {}), ...(anyInfo?.info ?? {}) };
    const keep = ['version', 'wasmVersion', 'backend', 'isa', 'threads', 'simd', 'multithread', 'blasLib'];
    const ver = keep.filter((k) => info[k] !== undefined).map((k) => `${k} ${String(info[k])}`).join('; ');
    sysRows.push(row([s.label, s.describe, ver || '—', idle === undefined ? '—' : mib(idle.res.maxRssKB)]));
  }

  // Background load: machine cores busy during each measurement beyond what the measuring child used.
  const background = measurements
    .filter((m) => m.busyCores !== null && m.result.ok && m.result.cpuSec !== undefined && m.wallSec > 2)
    .map((m) => m.busyCores! - (m.result as OkResult).cpuSec! / m.wallSec);
  const bg = background.length > 0 ? `${fmt(median(background))} cores (min ${fmt(Math.min(...background))}, max ${fmt(Math.max(...background))})` : 'unknown';

  // What the figures themselves say about the run, worth a reader's attention.
  const observations: string[] = [];
  if (torchIds.length === 2) {
    const slower = args.configs
      .map((c) => c.name)
      .filter((c) => {
        const two = oks('torch-2t', 'train', c).map((x) => x.res.value ?? NaN);
        const one = oks('torch-1t', 'train', c).map((x) => x.res.value ?? NaN);
        return two.length > 0 && one.length > 0 && median(two) < median(one);
      });
    if (slower.length > 0) {
      observations.push(`PyTorch with 2 threads trained slower than with 1 on ${slower.join(', ')}: with another process holding a core (see "other processes" above), OpenMP's spinning barriers wait for a descheduled thread. The "× PyTorch, 1 thread" column is the steadier yardstick on a shared machine.`);
    }
  }

  const skippedLines = [
    ...r.notes.map((n) => `- ${n.what}: ${n.why}`),
    ...[...r.skipped.entries()].map(([k, why]) => {
      const [sys, task, config] = k.split('|');
      return `- ${label(sys)}, ${task}${config !== '-' ? ` ${config}` : ''}: ${why}`;
    }),
  ];

  const cmd = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const tables = [
    `### Training throughput (full step: forward, cross-entropy, backward, clip 5, Adam)`,
    '',
    ...train,
    '',
    `### Batch-1 sampling: a forward step, softmax and draw per character (recurrent: state carried; Transformer: key/value cache, the window sliding past the context)`,
    '',
    ...sample,
    '',
    `### Matrix products (square n×n×n, 2n³ flops)`,
    '',
    ...gemm,
    ...(gemmNotes.length > 0 ? ['', ...gemmNotes.map((n) => `- ${n}`)] : []),
    '',
    ...footnotes.map((f, i) => `[${i + 1}] ${f}`),
    ...(footnotes.length > 0 ? [''] : []),
    '† time-boxed: a step took 10 s or more, so one warm-up and one timed step instead of two warm-ups and ≥ 2 timed.',
  ].join('\n');

  const full = [
    '# Benchmarks',
    '',
    `Produced by \`${cmd}\` (bench/run.ts) on ${r.started.toISOString()}, in ${(r.totalSec / 60).toFixed(1)} minutes: ${args.quick ? 'quick mode, ' : ''}configurations ${args.configs.map((c) => c.name).join(', ')}, ${args.repeats} repeat(s), ${args.budgetSec} s of timed steps per measurement. Do not edit by hand: run it again.`,
    '',
    '## Machine',
    '',
    row(['', '']),
    row(['---', '---']),
    ...r.mach.map(([k, v]) => row([k, v])),
    ...peerVersions().map(([k, v]) => row([k, v])),
    row(['torch', (() => {
      const t = measurements.find((m) => m.system.startsWith('torch') && m.result.ok)?.result as OkResult | undefined;
      return t === undefined ? 'absent' : `${String(t.info.version)} (BLAS: ${String(t.info.blasLib)})`;
    })()]),
    row(['load average (1, 5, 15 min)', `${r.load0.map((x) => x.toFixed(2)).join(', ')} at start; ${r.load1.map((x) => x.toFixed(2)).join(', ')} at the end`]),
    row(['other processes on the CPU', `${bg} busy beyond the measuring child, median over the measurements${r.others.length > 0 ? `; seen: ${r.others.map((o) => `\`${o.replace(/\|/g, '\\|')}\``).join('; ')}` : ''}`]),
    row(['data', r.data.source]),
    '',
    '## Method',
    '',
    '- Every figure comes from its own child process for one (system, task, configuration), so peaks of memory do not mix: peak RSS is that process\'s `ru_maxrss` (Node `process.resourceUsage().maxRSS`, Python `resource.getrusage`), everything it loaded included — the "RSS after loading" column of the systems table is each system\'s floor.',
    `- Each measurement: two warm-up steps, then timed steps until ${args.budgetSec} s have passed, at least two (a step of 10 s or more: one warm-up and one timed step, marked †). Training counts B·T tokens per step (brain.js: T per sequence).`,
    `- Repeats are interleaved — every system on S, then every system on CR, ..., then sampling, then GEMM, and again — and each cell gives the median with the min–max over repeats. Ratios are the median (min–max) over repeats of (this system ÷ PyTorch in the same repeat). Training is also given per CPU-second — tokens over the CPU seconds (user + system, every thread) the child's timed steps took — which other processes' turns on the cores do not inflate as they do wall-clock time (their effect on caches remains), against PyTorch on one thread; a threaded system's CPU-seconds include its threads' spinning.`,
    `- The same model everywhere: Embedding(V = ${V}, H) → L recurrent layers of H → Linear(H, V); the same step: mean softmax cross-entropy, backward, clip by global norm 5, Adam(2e-3, 0.9, 0.999, 1e-8) (brain.js excepted, see below). State is carried between steps where the system does so (ours, PyTorch); it does not change the cost.`,
    `- Skipped up front: the reference backend on M and L, and any step but PyTorch's projected (from the same system\'s smaller configurations, by flops per token) to take over ${SKIP_STEP_SEC} s; a measurement whose child took over ${NO_REPEAT_SEC} s is not repeated; a child is killed after ${CHILD_TIMEOUT_SEC} s.`,
    '',
    '## Systems',
    '',
    ...sysRows,
    '',
    '## Results',
    '',
    tables,
    '',
    ...(observations.length > 0 ? ['## Observations', '', ...observations.map((o) => `- ${o}`), ''] : []),
    '## Skipped',
    '',
    ...(skippedLines.length > 0 ? skippedLines : ['- nothing']),
    '',
  ].join('\n');
  return { tables, full };
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
