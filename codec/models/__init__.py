"""Learned codecs, one folder per media family."""
