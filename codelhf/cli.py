"""The `codelhf` command: one subcommand per module, thin wrappers that parse options and call the library.

Errors the user can fix (`UserError`) are printed as a message and a hint, with their exit code; never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from codelhf.errors import UserError

app = typer.Typer(help="Reinforcement learning from execution feedback for code LLMs.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
sandbox_app = typer.Typer(help="Build, check and clean the Docker sandbox.", no_args_is_help=True)
train_app = typer.Typer(help="Train a policy: sft, ppo, dpo, dpo-iter.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(train_app, name="train")

console = Console(stderr=True)


def main() -> None:
    try:
        app()
    except UserError as e:
        console.print(f"[bold red]error:[/] {e.message}")
        if e.hint:
            console.print(f"  [yellow]hint:[/] {e.hint}")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
