"""The ``codec`` command line: one module per subcommand, one frame in ``main``."""
