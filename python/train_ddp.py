#!/usr/bin/python3
"""Continue a recurrent checkpoint with PyTorch's DistributedDataParallel, and write it back: a language model
(`recurrent train`, recurrent or --model transformer, --per-line or not), a classifier (`recurrent classify
train`) or an encoder–decoder (`recurrent seq2seq train`, recurrent or --arch transformer), as its config.json
says.

  torchrun --nproc_per_node 2 python/train_ddp.py --checkpoint runs/lm --data input.txt --steps 4000
  torchrun --nproc_per_node 2 python/train_ddp.py --checkpoint runs/classifier --data labelled.tsv --steps 2000
  torchrun --nproc_per_node 2 python/train_ddp.py --checkpoint runs/seq2seq --data pairs.tsv [--val val.tsv] --steps 5000
  (on several machines: the same command on each, with --nnodes N --node_rank R --master_addr HOST --master_port PORT)

Then recurrent's sample / eval / decode and `--resume` read the directory. Details: recurrent_torch/train.py."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recurrent_torch.train import main

main()
