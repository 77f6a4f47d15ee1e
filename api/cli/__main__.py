"""`python -m api.cli` runs the `veil` command line."""

from api.cli import app

app()
