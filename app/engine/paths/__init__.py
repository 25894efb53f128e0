"""Optimizer paths on 2-D test surfaces (Saito, "Deep Learning from Scratch", 6.1)."""
