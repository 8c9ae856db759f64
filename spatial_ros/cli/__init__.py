"""The ``spatial-ros`` command line. Each module here with a ``register`` function adds
one subcommand; heavy imports stay inside the handlers so ``--help`` is instant."""
