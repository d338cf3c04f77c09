// The page's side of the studio worker: requests answered by id as promises, pushes to a callback, and a
// reset that ends the worker (and whatever it trained) and starts a fresh one. Nothing is posted to a worker
// before its first message: its modules wait for the wasm kernels (a top-level await) before it installs its
// handler, and a message that arrives sooner is dispatched to no handler and lost (a Train click right after
// Reset waited forever).

import type { FromWorker, Notice, Push, Reply, Request, ToWorker } from './protocol.js';

export class StudioClient {
  private worker!: Worker;
  /** Resolves at the worker's first message: its handler is installed. */
  private started!: Promise<void>;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(r: Reply): void; reject(e: Error): void }>();

  constructor(private readonly onPush: (p: Push) => void, private readonly onCrash: (message: string) => void) {
    this.start();
  }

  private start(): void {
    this.worker = new Worker(new URL('./studio-worker.js', import.meta.url), { type: 'module' });
    let markStarted!: () => void;
    this.started = new Promise((resolve) => (markStarted = resolve));
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      markStarted();
      const m = e.data;
      if (m.id === null) {
        this.onPush(m.push);
        return;
      }
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if ('error' in m) w?.reject(new Error(m.error));
      else w?.resolve(m.reply);
    };
    this.worker.onerror = (e) => {
      e.preventDefault();
      const message = `the studio's worker failed: ${e.message || 'it could not start (see the console)'}`;
      this.failAll(message);
      this.onCrash(message);
    };
  }

  private failAll(message: string): void {
    for (const w of this.waiting.values()) w.reject(new Error(message));
    this.waiting.clear();
  }

  call<K extends Request['kind']>(request: Extract<Request, { kind: K }>, transfer: Transferable[] = []): Promise<Extract<Reply, { kind: K extends 'resume' ? 'resume' | 'train' : K }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (r: Reply) => void, reject });
      this.post({ id, request }, transfer);
    });
  }

  notify(notice: Notice): void {
    this.post({ id: null, notice });
  }

  /** Posts to this worker once it has started; a worker reset meanwhile gets nothing (its calls failed with 'reset'). */
  private post(m: ToWorker, transfer: Transferable[] = []): void {
    const worker = this.worker;
    void this.started.then(() => {
      if (this.worker === worker) worker.postMessage(m, transfer);
    });
  }

  reset(): void {
    this.worker.terminate();
    this.failAll('reset');
    this.start();
  }
}
