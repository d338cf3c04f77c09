#!/usr/bin/python3
"""A checkpoint's language model in PyTorch over --text, its logits and final state to --out (safetensors)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recurrent_torch.forward import main

main()
