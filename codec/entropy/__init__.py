"""Entropy coding of integer symbols with quantized CDF tables.

``rans`` is the coder (a C++ core behind a small Python API); ``cdf`` builds
the tables it consumes from model distributions.
"""

from codec.entropy.rans import CdfTables, decode, encode

# --- CDF table construction (codec.entropy.cdf) ---
from codec.entropy.cdf import (
    gaussian_pmf,
    gaussian_scale_tables,
    laplace_pmf,
    laplace_scale_tables,
    log_scale_grid,
    logistic_pmf,
    logistic_scale_tables,
    make_tables,
    quantize_pmf,
    scale_to_index,
    table_arrays,
)

__all__ = ["CdfTables", "decode", "encode"]
__all__ += [
    "gaussian_pmf",
    "gaussian_scale_tables",
    "laplace_pmf",
    "laplace_scale_tables",
    "log_scale_grid",
    "logistic_pmf",
    "logistic_scale_tables",
    "make_tables",
    "quantize_pmf",
    "scale_to_index",
    "table_arrays",
]
