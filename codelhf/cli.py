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


@train_app.command("ppo")
def train_ppo_command(
    out: str = typer.Option(..., "--out", help="Run directory: metrics, checkpoint/, best/ and final/ policies."),
    model: str = typer.Option(None, "--model", help="Policy to start from, ideally an SFT model (default: tiny)."),
    problems: str = typer.Option(None, "--problems", help="Problem source with train/validation splits "
                                 "(default: bundled)."),
    config: str = typer.Option(None, "--config", help="YAML file of PPOConfig fields (see codelhf/configs/)."),
    set_: list[str] = typer.Option([], "--set", help="key=value override, repeatable: --set kl_coef=0.05 "
                                   "--set reward.kind=fraction"),
    resume: bool = typer.Option(False, "--resume", help="Go on from OUT/checkpoint (with OUT/config.yaml unless "
                                "--config is given)."),
) -> None:
    """PPO with the sandbox's verdicts as the reward (Xu et al. 2024), keeping the best checkpoint on validation."""
    from pathlib import Path

    from codelhf.config import load_config
    from codelhf.train.ppo import PPOConfig, train_ppo

    if resume and config is None and (Path(out) / "config.yaml").exists():
        config = str(Path(out) / "config.yaml")
    cfg = load_config(PPOConfig, config, set_)
    cfg.model = model or cfg.model
    cfg.problems = problems or cfg.problems
    if cfg.backend == "local":
        console.print("[yellow]warning:[/] backend local runs the programs on this host under rlimits only")
    result = train_ppo(cfg, out, resume=resume)
    start = result.initial.get(f"eval/{cfg.best_metric}")
    console.print(f"validation {cfg.best_metric}: start {start if start is not None else 'n/a'}, best "
                  f"{result.best:.4f} at step {result.best_step}; best policy in {Path(out) / 'best'}")


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
