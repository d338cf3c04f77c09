#!/usr/bin/env bash
# Grapheme-to-phoneme on CMUdict: the runs behind experiments/results/g2p.md. Every model is a
# bidirectional-LSTM encoder and an LSTM decoder with Adam and a cosine decay to 1e-4.
# - The longer models, each alone on the machine on both cores: hidden 256 with embeddings of 128 and
#   batch 128 (the 30-minute budget): no dropout for 9000 steps, label smoothing 0.1 for 8500, an encoder
#   of 128 per direction for 13000, dropout 0.15 for 8000 and 0.3 for 8500; label smoothing for 13500 steps
#   (about 45 minutes); and hidden 128 with dropout 0.2 for 48000 steps (25.8 epochs, about 35 minutes).
# - Four runs of 30 minutes by the clock with a moving average of the weights on the wasm kernels: one on
#   both cores, two at once on one core each, and a cosine to 5e-4 with a slower average; then that recipe
#   three times on the native kernels, then twice at once on one core each, and once more on faster
#   kernels (about 4 hours).
# - Two Transformer encoder-decoders (issue 15), 30 CPU-minutes each on one thread, at once (about 35 minutes).
# - The ablations, hidden 128, batch 64, Adam 2e-3: 6000 steps (3.2 epochs) each, two at a time on one
#   thread each; the hidden-128 main model trains 12000.
# Needs `npm run experiments:setup && npm run experiments:build` first.
#   bash experiments/g2p.sh [OUTDIR]      (default runs/g2p; about 11 hours on this machine)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/g2p}
data=$out/data
mkdir -p "$out"
[ -f "$data/test.tsv" ] || node dist/experiments/g2p-data.js "$data"
recurrent() { RECURRENT_THREADS=1 node dist/cli/recurrent.js "$@"; }
common=(--data "$data/train.tsv" --val "$data/val.tsv" --tgt-split space --bidirectional --hidden 128 --batch-size 64
  --lr 2e-3 --lr-schedule cosine --min-lr 1e-4)
train() { name=$1; shift; [ -f "$out/$name/model.safetensors" ] || recurrent seq2seq train "${common[@]}" "$@" --out "$out/$name" > "$out/$name.log" 2>&1; }

# The longer models, each alone on the machine with both threads (wall time in the last line of the log).
alone() { name=$1; shift; [ -f "$out/$name/model.safetensors" ] || /usr/bin/time -f 'wall %e s' node dist/cli/recurrent.js seq2seq train \
  --data "$data/train.tsv" --val "$data/val.tsv" --tgt-split space --bidirectional --attention luong-general \
  --lr 2e-3 --lr-schedule cosine --min-lr 1e-4 --seed 1 "$@" --out "$out/$name" > "$out/$name.log" 2>&1; }
h256=(--hidden 256 --embedding 128 --batch-size 128)
alone h256-e128-d0 "${h256[@]}" --steps 9000 --eval-every 2250
alone h256-e128-ls10 "${h256[@]}" --label-smoothing 0.1 --steps 8500 --eval-every 2125
alone h256-he128 "${h256[@]}" --encoder-hidden 128 --steps 13000 --eval-every 3250
alone h256-e128-ls10-13k "${h256[@]}" --label-smoothing 0.1 --steps 13500 --eval-every 3375
alone h256-e128-d15 "${h256[@]}" --dropout 0.15 --steps 8000 --eval-every 2000
alone h256-e128 "${h256[@]}" --dropout 0.3 --steps 8500 --eval-every 2125
alone h128-48k --hidden 128 --batch-size 64 --dropout 0.2 --steps 48000 --eval-every 12000

# A 30-minute budget by the clock (the cosine decays over --time), label smoothing and a moving average of
# the weights: alone on both cores with Adam 3e-3, then two models at once on one core each (an ensemble
# trained in the same 30 minutes).
timed() { name=$1; shift; [ -f "$out/$name/model.safetensors" ] || /usr/bin/time -f 'wall %e s' node dist/cli/recurrent.js seq2seq train \
  --data "$data/train.tsv" --val "$data/val.tsv" --tgt-split space --bidirectional --attention luong-general "${h256[@]}" \
  --lr-schedule cosine --min-lr 1e-4 --label-smoothing 0.1 --ema 0.999 --time 1800 --eval-every 2000 "$@" --out "$out/$name" > "$out/$name.log" 2>&1; }
# These four ran before the native kernels existed: --backend wasm gives them the speed they had.
timed h256-ls10-lr3-ema-30m --backend wasm --lr 3e-3 --seed 1
RECURRENT_THREADS=1 timed pair30m-s1 --backend wasm --lr 2e-3 --seed 1 &
RECURRENT_THREADS=1 timed pair30m-s2 --backend wasm --lr 2e-3 --seed 2 &
wait
timed h256-ls10-ema9995-floor5e-4-30m --backend wasm --lr 2e-3 --min-lr 5e-4 --ema 0.9995 --seed 1  # a floor of 5e-4, a slower average
# The same recipe on the native kernels (AVX2): validating every 4000 steps instead of 2000, then only at the end.
timed native-h256-ls10-ema9995-floor5e-4-30m --backend native --lr 2e-3 --min-lr 5e-4 --ema 0.9995 --seed 1 --eval-every 4000
timed native-h256-ls10-ema9995-floor5e-4-30m-b --backend native --lr 2e-3 --min-lr 5e-4 --ema 0.9995 --seed 1 --eval-every 100000
timed native-h256-ls10-ema9995-floor5e-4-30m-s2 --backend native --lr 2e-3 --min-lr 5e-4 --ema 0.9995 --seed 2 --eval-every 4000
# Two at once on the native kernels, one core each: the ensemble of the two meets the target.
RECURRENT_THREADS=1 timed native-pair30m-s1 --backend native --lr 2e-3 --min-lr 5e-4 --ema 0.9995 --seed 1 --eval-every 4000 &
RECURRENT_THREADS=1 timed native-pair30m-s2 --backend native --lr 2e-3 --min-lr 5e-4 --ema 0.9995 --seed 2 --eval-every 4000 &
wait
# The single-model recipe again after the faster elementwise kernels, cells and copies.
timed native2-h256-ls10-ema9995-floor5e-4-30m --backend native --lr 2e-3 --min-lr 5e-4 --ema 0.9995 --seed 1 --eval-every 4000

# The Transformer encoder-decoders (issue 15): 3+3 pre-norm layers, 30 minutes of each process's CPU time
# (--clock cpu) on one thread, the two at once on one core each.
tf() { name=$1; shift; [ -f "$out/$name/model.safetensors" ] || RECURRENT_THREADS=1 node dist/cli/recurrent.js seq2seq train \
  --data "$data/train.tsv" --val "$data/val.tsv" --tgt-split space --arch transformer --layers 3 --heads 4 --norm-first \
  --dropout 0.1 --label-smoothing 0.1 --batch-size 128 --lr 1e-3 --lr-schedule cosine --warmup 400 --min-lr 1e-5 \
  --time 1800 --clock cpu --eval-every 2000 "$@" --out "$out/$name" > "$out/$name.log" 2>&1; }
tf tf-w128-l3 --width 128 --ff 512 &
tf tf-w192-l3 --width 192 --ff 768 &
wait

# The hidden-128 main model, then the ablations in two lanes.
train luong --attention luong-general --steps 12000 --eval-every 2000
(
  train luong6k-s1 --attention luong-general --steps 6000 --eval-every 3000 --seed 1
  train bahdanau6k --attention bahdanau --steps 6000 --eval-every 3000 --seed 1
  train luong6k-ss --attention luong-general --steps 6000 --eval-every 3000 --seed 1 --teacher-forcing linear:1,0.0000417,0.75
) &
(
  train luong6k-s2 --attention luong-general --steps 6000 --eval-every 3000 --seed 2
  train luong6k-s3 --attention luong-general --steps 6000 --eval-every 3000 --seed 3
  train none6k --attention none --steps 6000 --eval-every 3000 --seed 1
) &
wait

# Test-set scores: one JSON line each.
evaluate() { echo "$1 beam $2: $(recurrent seq2seq eval --checkpoint "$1" --data "$data/test.tsv" --beam "$2")"; }
for m in tf-w128-l3 tf-w192-l3 native2-h256-ls10-ema9995-floor5e-4-30m native-pair30m-s1 native-pair30m-s2 native-h256-ls10-ema9995-floor5e-4-30m native-h256-ls10-ema9995-floor5e-4-30m-b native-h256-ls10-ema9995-floor5e-4-30m-s2 h256-ls10-ema9995-floor5e-4-30m h256-ls10-lr3-ema-30m pair30m-s1 pair30m-s2 h256-e128-d0 h256-e128-ls10 h256-he128 h256-e128-ls10-13k h256-e128-d15 h256-e128 h128-48k luong luong6k-s1 bahdanau6k luong6k-ss none6k; do
  for beam in 1 5; do evaluate "$out/$m" $beam; done
done | tee "$out/test-scores.txt"
evaluate "$out/h256-e128,$out/h128-48k" 5 | tee -a "$out/test-scores.txt"
evaluate "$out/h256-e128-d0,$out/h256-e128-ls10,$out/h256-e128-d15" 5 | tee -a "$out/test-scores.txt"
evaluate "$out/pair30m-s1,$out/pair30m-s2" 5 | tee -a "$out/test-scores.txt"
evaluate "$out/native-pair30m-s1,$out/native-pair30m-s2" 5 | tee -a "$out/test-scores.txt"
evaluate "$out/tf-w128-l3,$out/tf-w192-l3" 5 | tee -a "$out/test-scores.txt"
for beam in 1 5; do evaluate "$out/luong6k-s1,$out/luong6k-s2,$out/luong6k-s3" $beam; done | tee -a "$out/test-scores.txt"
# The length penalty of beam search, chosen on the validation words (not the test words), then tested once.
for a in 0 0.5 0.75 1 1.5; do
  echo "native val beam 5 length-penalty $a: $(recurrent seq2seq eval --checkpoint "$out/native-h256-ls10-ema9995-floor5e-4-30m" --data "$data/val.tsv" --beam 5 --length-penalty $a)"
done | tee -a "$out/test-scores.txt"
echo "native test beam 5 length-penalty 0.5: $(recurrent seq2seq eval --checkpoint "$out/native-h256-ls10-ema9995-floor5e-4-30m" --data "$data/test.tsv" --beam 5 --length-penalty 0.5)" | tee -a "$out/test-scores.txt"
