"""The ``partreid`` subcommands that span several layers (training, evaluation, sweeps, benchmarks), kept at the
top of the package so no lower layer imports the ones above it; :mod:`partreid_core.cli` registers them."""
