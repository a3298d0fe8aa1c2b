"""Gait analytics: pure numpy/scipy, no I/O. Landmarks in, strides and classes out."""
