"""Helpers shared by the benchmark scripts in tests/bench."""
import subprocess

import numpy as np
from scipy import ndimage


def sh(cmd, data=None):
    """standard output of a shell command, data (bytes) on its standard input"""
    return subprocess.run(cmd, shell=True, input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def f1(a, b):
    """F1 of binary edge maps a (found) and b (wanted), 1-pixel tolerance"""
    if not a.any() or not b.any():
        return float(a.any() == b.any())
    k = np.ones((3, 3), bool)
    p = (a & ndimage.binary_dilation(b, k)).sum() / a.sum()
    r = (b & ndimage.binary_dilation(a, k)).sum() / b.sum()
    return 0 if p + r == 0 else 2 * p * r / (p + r)
