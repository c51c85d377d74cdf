"""Learned video codecs, one folder per family (``dcvc/``: conditional coding with implicit temporal context)."""
