"""Helper programs behind the `r1` command line."""
