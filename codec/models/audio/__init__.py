"""Learned audio codecs, one folder per family (``rvq``: STFT-domain encoder/decoder with residual VQ)."""
