#!/usr/bin/python3
"""A checkpoint's model in PyTorch, its outputs to --out (safetensors): a language model over --text, a classifier or
an encoder–decoder over the lines of --data. Details: recurrent_torch/forward.py."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recurrent_torch.forward import main

main()
