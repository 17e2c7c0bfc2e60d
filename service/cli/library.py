"""`kotae library`: the curated answer library (clusters, canonical answers, conflicts, due reviews)."""

from __future__ import annotations

import typer

library_app = typer.Typer(
    help="Keep one true answer per control: conflicts, due reviews, import/export.", no_args_is_help=True
)
