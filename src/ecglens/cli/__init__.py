"""The ``ecglens`` command line."""
