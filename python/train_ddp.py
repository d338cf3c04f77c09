#!/usr/bin/python3
"""Continue a `recurrent train` checkpoint with PyTorch's DistributedDataParallel, and write it back.

  torchrun --nproc_per_node 2 python/train_ddp.py --checkpoint runs/lm --data input.txt --steps 4000
  (on several machines: the same command on each, with --nnodes N --node_rank R --master_addr HOST --master_port PORT)

Then `recurrent sample`, `recurrent eval` and `recurrent train --resume` read runs/lm. Details: recurrent_torch/train.py."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recurrent_torch.train import main

main()
