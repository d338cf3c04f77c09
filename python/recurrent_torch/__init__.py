"""The PyTorch twin of recurrent's checkpoints — the language model, the classifiers and the recurrent
encoder–decoder: build a checkpoint's model in PyTorch from its config.json, load model.safetensors, continue
training with DistributedDataParallel, and write the checkpoint back in recurrent's layout (so recurrent's
sample / eval / decode and `--resume` read it). Not part of the npm package: run it with Debian's python3-torch
(/usr/bin/python3, torch 1.13). See ../train_ddp.py."""
