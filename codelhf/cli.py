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
tiny_app = typer.Typer(help="The tiny bundled model: build it into the user cache.", no_args_is_help=True)
app.add_typer(tiny_app, name="tiny")

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


@sandbox_app.command("build")
def sandbox_build(force: bool = typer.Option(False, "--force", help="Rebuild even if the image exists.")) -> None:
    """Build the sandbox image (from the registry if reachable, else offline from Debian packages)."""
    from codelhf.execution.image import ensure_image

    def log(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    tag = ensure_image(force=force, log=log)
    console.print(f"sandbox image: [bold]{tag}[/]")


@sandbox_app.command("status")
def sandbox_status() -> None:
    """Show the Docker daemon, whether the current sandbox image exists, and the running codelhf containers."""
    from rich.table import Table

    from codelhf.execution.docker import OWNER_LABEL, codelhf_containers, owner_alive
    from codelhf.execution.image import connect, image_present, image_tag

    client = connect()
    version = client.version()
    tag = image_tag()
    console.print(f"docker daemon: {version.get('Version')} (API {version.get('ApiVersion')}), reachable")
    console.print(f"sandbox image: {tag} " + ("[green]present[/]" if image_present(client, tag) else
                                              "[yellow]missing[/] (built on first use, or `codelhf sandbox build`)"))
    containers = codelhf_containers(client)
    table = Table(title=f"{len(containers)} codelhf container(s)")
    for column in ("name", "status", "image", "owner"):
        table.add_column(column)
    for c in containers:
        owner = c.labels.get(OWNER_LABEL, "?")
        table.add_row(c.name, c.status, c.attrs["Config"]["Image"],
                      owner + ("" if owner_alive(owner) else " (gone: stale)"))
    console.print(table)


@sandbox_app.command("self-test")
def sandbox_self_test(backend: str = typer.Option("docker", help="docker or local."),
                      workers: int = typer.Option(None, help="Workers (default: one per core).")) -> None:
    """Run programs with known verdicts (AC, WA, TLE, RE, CE, MLE, OLE; Python and C++) through the executor."""
    from rich.table import Table

    from codelhf.execution.selftest import run_self_test

    outcomes, seconds = run_self_test(backend, workers)
    table = Table(title=f"sandbox self-test ({backend}, {seconds:.1f} s)")
    for column in ("program", "expected", "got", "", "detail"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(o.case.name, o.case.expected.value, o.status.value, "[green]ok[/]" if o.ok else "[red]FAIL[/]",
                      o.feedback[:80])
    console.print(table)
    failed = sum(not o.ok for o in outcomes)
    if failed:
        console.print(f"[bold red]{failed} of {len(outcomes)} verdicts unexpected[/]")
        raise typer.Exit(1)
    console.print(f"[bold green]all {len(outcomes)} verdicts as expected[/]")


@sandbox_app.command("clean")
def sandbox_clean(images: bool = typer.Option(False, "--images", help="Also remove the sandbox images.")) -> None:
    """Remove every codelhf sandbox container (including those of running jobs) and optionally the images."""
    from codelhf.execution.docker import codelhf_containers
    from codelhf.execution.image import IMAGE_REPO, connect

    client = connect()
    containers = codelhf_containers(client)
    for c in containers:
        c.remove(force=True)
    console.print(f"removed {len(containers)} container(s)")
    if images:
        tags = [t for image in client.images.list() for t in image.tags if t.split(":")[0].startswith(IMAGE_REPO)]
        for t in tags:
            client.images.remove(t)
        console.print(f"removed {len(tags)} image tag(s)")


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


@app.command("sample")
def sample_command(
    out: str = typer.Option(..., "--out", help="Samples JSONL to write ({problem_id, program, sample_index, ...})."),
    model: str = typer.Option("tiny", "--model", help="Hugging Face name, local checkpoint directory, or 'tiny'."),
    problems: str = typer.Option("bundled", "--problems", help="Problem source: a file, a hub dataset, 'bundled'."),
    split: str = typer.Option(None, "--split", help="Dataset split (bundled: train, validation, test)."),
    limit: int = typer.Option(None, "--limit", help="Sample for at most this many problems."),
    n: int = typer.Option(1, "--n", help="Samples per problem."),
    temperature: float = typer.Option(1.0, "--temperature", help="0 = greedy."),
    top_k: int = typer.Option(0, "--top-k", help="0 = off (the paper uses 200)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass; 1.0 = off."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", help="Longest sample in tokens."),
    backend: str = typer.Option("hf", "--backend", help="hf (transformers) or vllm (needs the vllm extra)."),
    batch_size: int = typer.Option(32, "--batch-size", help="hf backend: sequences decoded together."),
    seed: int = typer.Option(0, "--seed", help="Same seed and options, same samples."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: cuda when available)."),
) -> None:
    """Sample programs for problems from a policy and write them as a samples JSONL (for `codelhf execute`)."""
    from codelhf.datasets import load_problems
    from codelhf.generation import SamplingParams, make_generator
    from codelhf.generation.sampling import sample_problems
    from codelhf.samples import save_samples

    if n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    problem_list = load_problems(problems, split=split, limit=limit)
    if not problem_list:
        raise UserError(f"no problems in {problems!r}" + (f" split {split!r}" if split else ""),
                        "check --problems and --split")
    options = {"batch_size": batch_size} if backend == "hf" else {}
    generator = make_generator(model, backend=backend, device=device, **options)
    params = SamplingParams(n=n, temperature=temperature, top_k=top_k, top_p=top_p, max_new_tokens=max_new_tokens,
                            seed=seed)
    samples = sample_problems(generator, problem_list, params, prompts_per_call=max(1, batch_size // n))
    for s in samples:
        s.metadata["model"] = model
    save_samples(out, samples)
    console.print(f"{len(samples)} samples for {len(problem_list)} problems written to {out}")


@train_app.command("sft")
def train_sft_command(
    out: str = typer.Option(..., "--out", help="Run directory: the final model (loads by path), metrics, "
                            "tensorboard/, checkpoint-STEP/."),
    model: str = typer.Option("tiny", "--model", help="Model to fine-tune: hub name, local path, or 'tiny'."),
    problems: str = typer.Option("bundled", "--problems", help="Problems with reference solutions."),
    split: str = typer.Option("train", "--split", help="Split to train on."),
    val_split: str = typer.Option("validation", "--val-split", help="Split for pass@1 during training ('' = none)."),
    limit: int = typer.Option(None, "--limit", help="Train on at most this many problems."),
    config: str = typer.Option(None, "--config", help="YAML file of SFTConfig fields."),
    set_: list[str] = typer.Option([], "--set", help="key=value override, repeatable: --set lr=2e-5"),
    device: str = typer.Option(None, "--device", help="cpu, cuda (default: cuda when available)."),
) -> None:
    """Supervised fine-tuning on reference solutions (loss on the solution only), with validation pass@1."""
    from codelhf.config import load_config
    from codelhf.datasets import load_problems
    from codelhf.policy import load_policy
    from codelhf.train.sft import SFTConfig, train_sft

    cfg = load_config(SFTConfig, config, set_)
    train = load_problems(problems, split=split, limit=limit)
    val = load_problems(problems, split=val_split) if val_split else []
    if cfg.executor == "local" and val:
        console.print("[yellow]warning:[/] executor local runs the programs on this host under rlimits only")
    policy, tokenizer = load_policy(model, device=device)
    result = train_sft(policy, tokenizer, train, cfg, out, val_problems=val)
    last = f"; validation pass@1 {result.evals[-1]['eval/pass@1']:.3f}" if result.evals else ""
    console.print(f"{result.steps} steps, final loss {result.losses[-1]:.4f}{last}; model saved in {out}")


@tiny_app.command("build")
def tiny_build_command(force: bool = typer.Option(False, "--force", help="Rebuild even if it is cached.")) -> None:
    """Build the tiny bundled model into the user cache (what `--model tiny` uses), and say how long it took."""
    import time

    from codelhf.tiny import build_tiny, cache_dir

    cached = (cache_dir() / "config.json").exists() and not force
    start = time.time()
    path = build_tiny(force=force)
    console.print(f"tiny model already built: {path}" if cached
                  else f"tiny model built in {time.time() - start:.0f} s: {path}")


@app.command()
def validate(
    problems: str = typer.Option(..., "--problems", help="Problem source: a file, a directory, a hub name, bundled."),
    format: str = typer.Option(None, "--format", help="Dataset format (detected from the rows when not given)."),
    split: str = typer.Option(None, "--split", help="Dataset split, for sources that have several."),
    limit: int = typer.Option(None, "--limit", help="Read at most this many problems."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip malformed rows (counted) instead of stopping."),
    backend: str = typer.Option("docker", "--backend", help="docker (isolated) or local (host, weaker)."),
    workers: int = typer.Option(None, "--workers", help="Parallel sandbox workers (default: one per core)."),
    max_solutions: int = typer.Option(None, "--max-solutions", help="Run at most this many correct (and as many "
                                      "incorrect) solutions per problem."),
    out: str = typer.Option(None, "--out", help="Write the suspect problems here, one JSON object per line."),
    json_summary: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Run a dataset's reference and incorrect solutions against its tests; list problems whose tests look wrong."""
    import json

    from codelhf.datasets import load_problems
    from codelhf.execution import Executor
    from codelhf.problems import write_jsonl
    from codelhf.validate import validate as run_validation

    problem_list = load_problems(problems, format=format, split=split, limit=limit, skip_bad=skip_bad)
    with Executor(backend=backend, workers=workers) as ex:
        report = run_validation(problem_list, ex, max_solutions=max_solutions, progress=not json_summary)
    if out:
        write_jsonl(out, report.suspects())
    if json_summary:
        print(json.dumps(report.summary()))
        return
    console.print(f"{report.problems} problems; correct solutions accepted {report.solutions_accepted}/"
                  f"{report.solutions_total}; incorrect solutions rejected {report.incorrect_rejected}/"
                  f"{report.incorrect_total}; {report.solutions_skipped} solution(s) in other languages skipped"
                  + (f"; {report.system_errors} system error(s)" if report.system_errors else ""))
    for check in report.checks:
        if check.suspect:
            console.print(f"  [yellow]suspect[/] {check.problem_id}: {'; '.join(check.reasons)}")
    console.print(f"{report.suspect_problems} suspect problem(s)" + (f", written to {out}" if out else ""))


@app.command()
def evaluate(
    problems: str = typer.Option(..., "--problems", help="Problem source: a file, a directory, a hub name, bundled."),
    samples: str = typer.Option(None, "--samples", help="Samples JSONL to execute ({problem_id, program | "
                                "completion, language})."),
    verdicts: str = typer.Option(None, "--verdicts", help="Reuse verdicts written by `codelhf execute --out` "
                                 "instead of executing."),
    k: str = typer.Option("1", "--k", help="Comma-separated k for pass@k, e.g. 1,10,100."),
    n_at_k: str = typer.Option(None, "--n-at-k", help="n@k with public-test filtering, e.g. 10@1000 (commas for "
                               "several)."),
    format: str = typer.Option(None, "--format", help="Dataset format (detected from the rows when not given)."),
    split: str = typer.Option(None, "--split", help="Dataset split, for sources that have several."),
    limit: int = typer.Option(None, "--limit", help="Read at most this many problems."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip malformed rows (counted) instead of stopping."),
    backend: str = typer.Option("docker", "--backend", help="docker (isolated) or local (host, weaker)."),
    workers: int = typer.Option(None, "--workers", help="Parallel sandbox workers (default: one per core)."),
    out: str = typer.Option(None, "--out", help="Write the verdicts of the executed samples here (JSONL)."),
    plot: str = typer.Option(None, "--plot", help="Write a bar chart of pass@k by difficulty (PNG)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the confidence interval."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    json_summary: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
) -> None:
    """pass@k (unbiased estimator) and n@k (AlphaCode filtering), overall and by difficulty, with bootstrap CIs."""
    import json

    from rich.console import Console

    from codelhf.datasets import load_problems
    from codelhf.evaluate import evaluate as run_evaluation
    from codelhf.evaluate import parse_ks, parse_n_at_k, plot_by_difficulty, render_table
    from codelhf.verdicts import load_verdicts, save_verdicts

    ks = parse_ks(k)  # bad values fail before anything runs
    n_at = parse_n_at_k(n_at_k) if n_at_k else []
    if not samples and not verdicts:
        raise UserError("nothing to evaluate", "give --samples (executed now) or --verdicts (from execute --out)")
    problem_list = load_problems(problems, format=format, split=split, limit=limit, skip_bad=skip_bad)
    if verdicts:
        verdict_list = load_verdicts(verdicts)
    else:
        from codelhf.execution import Executor
        from codelhf.samples import load_samples

        sample_list = load_samples(samples)
        with Executor(backend=backend, workers=workers) as ex:
            verdict_list = ex.run(problem_list, sample_list, tests="all", progress=not json_summary)
        if out:
            save_verdicts(out, verdict_list)
    result = run_evaluation(problem_list, verdict_list, ks=ks, n_at_k=n_at, bootstrap=bootstrap, seed=seed)
    if plot:
        plot_by_difficulty(result, plot)
    if json_summary:
        print(json.dumps(result))
        return
    Console().print(render_table(result))
    for name, why in result.get("undefined", {}).items():
        console.print(f"[yellow]{name} undefined:[/] {why} (no k-subset exists; not extrapolated)")
    if plot:
        console.print(f"plot written to {plot}")


@app.command()
def execute(
    problems: str = typer.Option(..., "--problems", help="Problems: canonical JSONL, or any source codelhf reads."),
    samples: str = typer.Option(..., "--samples", help="JSONL of {problem_id, program | completion, language}."),
    out: str = typer.Option(None, "--out", help="Write one verdict record per sample here (JSONL)."),
    backend: str = typer.Option("docker", "--backend", help="docker (isolated) or local (host, weaker)."),
    workers: int = typer.Option(None, "--workers", help="Parallel sandbox workers (default: one per core)."),
    tests: str = typer.Option("all", "--tests", help="Which tests to run: all, public or hidden."),
    format: str = typer.Option(None, "--format", help="Problem file format (detected when not given)."),
    split: str = typer.Option(None, "--split", help="Dataset split, for sources that have several."),
    limit: int = typer.Option(None, "--limit", help="Read at most this many problems."),
    json_summary: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Run samples against their problems' tests in the sandbox and report verdicts."""
    import json

    from codelhf.execution import Executor
    from codelhf.samples import load_samples
    from codelhf.verdicts import count_statuses, save_verdicts

    try:
        from codelhf.datasets import load_problems
    except ImportError:  # only the canonical JSONL reader is there
        from codelhf.problems import load_problems_jsonl

        if format not in (None, "jsonl") or split is not None:
            raise UserError("--format and --split need the dataset loaders, which this install lacks",
                            "give --problems a canonical problems JSONL")
        problem_list = load_problems_jsonl(problems)[:limit]
    else:
        problem_list = load_problems(problems, format=format, split=split, limit=limit)
    sample_list = load_samples(samples)
    if backend == "local":
        console.print("[yellow]warning:[/] --backend local runs the programs on this host under rlimits only: "
                      "isolation is much weaker than the docker sandbox; use it only for code you trust")
    with Executor(backend=backend, workers=workers, tests=tests) as ex:
        verdicts = ex.run(problem_list, sample_list)
        stats = ex.last_stats
    if out:
        save_verdicts(out, verdicts)
    summary = {"samples": len(verdicts), "all_passed": sum(v.all_passed for v in verdicts),
               "verdicts": count_statuses(verdicts)}
    if json_summary:
        print(json.dumps(summary))
    else:
        rate = f" in {stats.seconds:.1f} s ({stats.programs_per_s:.1f} programs/s)" if stats else ""
        console.print(f"{summary['all_passed']}/{summary['samples']} samples passed every test{rate}; "
                      f"verdicts: {summary['verdicts']}" + (f"; written to {out}" if out else ""))


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
