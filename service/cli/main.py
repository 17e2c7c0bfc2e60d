"""`kotae`: the Typer app and where each command group is registered (one module per group)."""

from __future__ import annotations

import typer

from service.cli.doctor import doctor
from service.cli.draft import draft
from service.cli.eval import eval_app
from service.cli.ingest import ingest
from service.cli.kb import kb_app
from service.cli.library import library_app
from service.cli.serve import serve, worker
from service.cli.settings import settings
from service.cli.users import users_app

app = typer.Typer(help="Kotae drafts answers to security questionnaires from your past answers.", no_args_is_help=True)
app.command()(ingest)
app.command()(draft)
app.add_typer(kb_app, name="kb")
app.add_typer(eval_app, name="eval")
app.add_typer(library_app, name="library")
app.add_typer(users_app, name="users")
app.command()(doctor)
app.command()(worker)
app.command()(serve)
app.command()(settings)


if __name__ == "__main__":
    app()
