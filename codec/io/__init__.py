"""Media and file input/output: atomic writes here; Pillow, PyAV and soundfile readers as codecs land."""
