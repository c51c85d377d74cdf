"""Learned image codecs."""
