"""Where PyTorch's Transformer training step goes: the bench's GPT twin (bench/peers/torch_bench.py's model,
python/recurrent_torch's TransformerLanguageModel) on random windows, the step the bench times (forward,
cross-entropy, backward, clip 5, Adam), its mean CPU time per step (every thread's), then torch.profiler's self CPU time
per operator. The counterpart of scripts/profile-train.ts for our side. OpenBLAS's tuning variables are
dropped before torch loads, as bench/run.ts drops them (OPENBLAS_CORETYPE=Haswell would hold an AVX-512
CPU to the 256-bit kernels).

  /usr/bin/python3 scripts/profile-torch-gpt.py [E L heads B T [threads]] [--keep-openblas-env]   (default 128 4 4 12 64 1: config T)
"""
import os
import sys
import time

if '--keep-openblas-env' in sys.argv:  # to see what the variables cost
    sys.argv.remove('--keep-openblas-env')
else:
    for var in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'):
        os.environ.pop(var, None)
import torch  # noqa: E402  after the environment is set
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'python'))
from recurrent_torch.models import TransformerLanguageModel  # noqa: E402

E, L, H, B, T = (int(a) for a in sys.argv[1:6]) if len(sys.argv) >= 6 else (128, 4, 4, 12, 64)
torch.set_num_threads(int(sys.argv[6]) if len(sys.argv) >= 7 else 1)
V = 65
torch.manual_seed(0)
model = TransformerLanguageModel({'vocabSize': V, 'dModel': E, 'numLayers': L, 'numHeads': H, 'context': T,
                                  'dropout': 0.0, 'tieEmbeddings': False}).init_gpt2()
opt = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.9, 0.999), eps=1e-8)


def _timed(f, reps=10):
    t = time.process_time()  # every thread's CPU time: with threads > 1, the CPU the product cost
    for _ in range(reps):
        f()
    return (time.process_time() - t) / reps


def step():
    w = torch.randint(V, (T + 1, B))  # time-major windows, as the bench feeds them
    logits = model(w[:-1].contiguous())[0]
    loss = F.cross_entropy(logits.reshape(-1, V), w[1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()


for m, k, nn in ((B * T, E, 4 * E), (B * T, 4 * E, E)):  # linear1's and linear2's forward products
    a, b = torch.randn(m, k), torch.randn(k, nn)
    for _ in range(10):
        a @ b
    best = min(_timed(lambda: a @ b) for _ in range(20))
    print(f'torch.mm {m}x{k}x{nn}: {2 * m * k * nn / best / 1e9:.0f} GFLOP/s per CPU-second (best of 20)')
for _ in range(5):
    step()
n = 50
t0 = time.process_time()
for _ in range(n):
    step()
ms = (time.process_time() - t0) / n * 1e3
print(f'PyTorch {torch.__version__}, {torch.get_num_threads()} thread(s): GPT {L}x{E}, {H} heads, B {B}, T {T}: '
      f'{ms:.2f} ms of CPU (every thread) a step, {B * T / ms * 1e3:,.0f} tokens per CPU-second')
with torch.profiler.profile() as prof:
    for _ in range(10):
        step()
print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=16))
