"""The `codelhf` command: one subcommand per module, thin wrappers that parse options and call the library.

Errors the user can fix (`UserError`) are printed as a message and a hint, with their exit code; never a traceback.
Options that several commands share are defined once below, and a command's options that name fields of its config
reach it the one way every config is changed (`load_config(..., flags=...)`, after the file and `--set`).

Modules that import torch, transformers or matplotlib (seconds on a CPU machine) are imported inside the commands
that train, sample or plot, so that `--help`, `execute` and `validate` start at once; everything else is imported
here.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from codelhf.config import load_config
from codelhf.datasets import load_problems
from codelhf.errors import UserError
from codelhf.execution import Executor
from codelhf.execution.base import owner_alive
from codelhf.execution.docker import OWNER_LABEL, codelhf_containers
from codelhf.execution.image import IMAGE_REPO, connect, ensure_image, image_present, image_tag
from codelhf.execution.selftest import run_self_test
from codelhf.harness.base import as_text
from codelhf.integrations import adapter_path
from codelhf.integrations.scorer import ScorerConfig
from codelhf.problems import write_jsonl
from codelhf.samples import load_samples, save_samples
from codelhf.train.pairs import PairConfig, load_pairs, pairs_from_solutions, pairs_from_verdicts, save_pairs
from codelhf.validate import program_that_ran
from codelhf.validate import validate as run_validation
from codelhf.verdicts import count_statuses, excerpt, load_verdicts, save_verdicts

app = typer.Typer(help="Reinforcement learning from execution feedback for code LLMs.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
sandbox_app = typer.Typer(help="Build, check and clean the Docker sandbox.", no_args_is_help=True)
train_app = typer.Typer(help="Train a policy: sft, ppo, dpo, dpo-iter.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(train_app, name="train")
tiny_app = typer.Typer(help="The tiny bundled model: rebuild it from its recipe.", no_args_is_help=True)
app.add_typer(tiny_app, name="tiny")
integrations_app = typer.Typer(help="Use the sandbox as the reward of TRL, verl or OpenRLHF.", no_args_is_help=True)
app.add_typer(integrations_app, name="integrations")

console = Console(stderr=True)

Overrides = Annotated[list[str] | None, typer.Option(
    "--set", help="key=value override of the config, repeatable: dotted keys for nested configs (--set "
    "reward.kind=fraction), values read as YAML.")]
ConfigFile = Annotated[str | None, typer.Option("--config", help="YAML file of the command's config fields (see "
                                                "codelhf/configs/).")]
Problems = Annotated[str, typer.Option("--problems", help="Problem source: a file, a directory, a hub dataset, or "
                                       "bundled.")]
ConfigProblems = Annotated[str | None, typer.Option("--problems", help="Problem source with the splits the command "
                                                   "needs (default: the config's, bundled).")]
Format = Annotated[str | None, typer.Option("--format", help="Dataset format (detected from the rows when not "
                                            "given).")]
Split = Annotated[str | None, typer.Option("--split", help="Dataset split, for sources that have several (bundled: "
                                           "train, validation, test).")]
Limit = Annotated[int | None, typer.Option("--limit", help="Read at most this many problems.")]
SkipBad = Annotated[bool, typer.Option("--skip-bad", help="Skip malformed rows (counted) instead of stopping.")]
Backend = Annotated[str, typer.Option("--backend", help="Sandbox: docker (isolated) or local (this host, weaker).")]
Workers = Annotated[int | None, typer.Option("--workers", help="Parallel sandbox workers (default: one per core).")]
Model = Annotated[str | None, typer.Option("--model", help="Policy: a Hugging Face name, a local checkpoint "
                                           "directory, or tiny (the bundled model).")]
JsonSummary = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def warn_if_local(backend: str) -> None:
    """Every command that runs programs says so when they run on this host rather than in the Docker sandbox."""
    if backend == "local":
        console.print("[yellow]warning:[/] the local backend runs the programs on this host under rlimits only: "
                      "isolation is much weaker than the docker sandbox; use it only for code you trust")


@app.command()
def execute(
    problems: Problems,
    samples: str = typer.Option(..., "--samples", help="JSONL of {problem_id, program | completion, language}."),
    out: str = typer.Option(None, "--out", help="Write one verdict record per sample here (JSONL)."),
    backend: Backend = "docker",
    workers: Workers = None,
    tests: str = typer.Option("all", "--tests", help="Which tests to run: all, public or hidden."),
    format: Format = None,
    split: Split = None,
    limit: Limit = None,
    skip_bad: SkipBad = False,
    json_summary: JsonSummary = False,
) -> None:
    """Run samples against their problems' tests in the sandbox and report verdicts."""
    problem_list = load_problems(problems, format=format, split=split, limit=limit, skip_bad=skip_bad)
    sample_list = load_samples(samples)
    warn_if_local(backend)
    with Executor(backend=backend, workers=workers, tests=tests) as ex:
        future = ex.submit(problem_list, sample_list)
        verdicts = ex.wait(future)
        stats = future.stats
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


@sandbox_app.command("build")
def sandbox_build(force: bool = typer.Option(False, "--force", help="Rebuild even if the image exists.")) -> None:
    """Build the sandbox image (from the registry if reachable, else offline from Debian packages)."""
    def log(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    tag = ensure_image(force=force, log=log)
    console.print(f"sandbox image: [bold]{tag}[/]")


@sandbox_app.command("status")
def sandbox_status() -> None:
    """Show the Docker daemon, whether the current sandbox image exists, and the running codelhf containers."""
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
def sandbox_self_test(backend: Backend = "docker", workers: Workers = None) -> None:
    """Run programs with known verdicts (AC, WA, TLE, RE, CE, MLE, OLE; Python and C++) through the executor."""
    warn_if_local(backend)
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
    model: Model = None,
    problems: ConfigProblems = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    resume: bool = typer.Option(False, "--resume", help="Go on from OUT/checkpoint (with OUT/config.yaml unless "
                                "--config is given)."),
) -> None:
    """PPO with the sandbox's verdicts as the reward (Xu et al. 2024), keeping the best checkpoint on validation."""
    from codelhf.train.ppo import PPOConfig, train_ppo

    if resume and config is None and (Path(out) / "config.yaml").exists():
        config = str(Path(out) / "config.yaml")
    cfg = load_config(PPOConfig, config, set_ or [], flags={"model": model, "problems": problems})
    warn_if_local(cfg.backend)
    result = train_ppo(cfg, out, resume=resume)
    start = result.initial.get(f"eval/{cfg.best_metric}")
    console.print(f"validation {cfg.best_metric}: start {start if start is not None else 'n/a'}, best "
                  f"{result.best:.4f} at step {result.best_step}; best policy in {Path(out) / 'best'}")


@app.command("sample")
def sample_command(
    out: str = typer.Option(..., "--out", help="Samples JSONL to write ({problem_id, program, sample_index, ...})."),
    model: Model = "tiny",
    problems: Problems = "bundled",
    format: Format = None,
    split: Split = None,
    limit: Limit = None,
    skip_bad: SkipBad = False,
    n: int = typer.Option(1, "--n", help="Samples per problem."),
    temperature: float = typer.Option(1.0, "--temperature", help="0 = greedy."),
    top_k: int = typer.Option(0, "--top-k", help="0 = off (the paper uses 200)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass; 1.0 = off."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", help="Longest sample in tokens."),
    sampler: str = typer.Option("hf", "--sampler", help="hf (transformers) or vllm (needs the vllm extra)."),
    batch_size: int = typer.Option(32, "--batch-size", help="hf sampler: sequences decoded together."),
    seed: int = typer.Option(0, "--seed", help="Same seed and options, same samples."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: cuda when available)."),
) -> None:
    """Sample programs for problems from a policy and write them as a samples JSONL (for `codelhf execute`)."""
    from codelhf.generation import SamplingParams, make_generator
    from codelhf.generation.sampling import sample_problems

    if n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    problem_list = load_problems(problems, format=format, split=split, limit=limit, skip_bad=skip_bad)
    if not problem_list:
        raise UserError(f"no problems in {problems!r}" + (f" split {split!r}" if split else ""),
                        "check --problems and --split")
    options = {"batch_size": batch_size} if sampler == "hf" else {}
    generator = make_generator(model, backend=sampler, device=device, **options)
    params = SamplingParams(n=n, temperature=temperature, top_k=top_k, top_p=top_p, max_new_tokens=max_new_tokens,
                            seed=seed)
    samples = sample_problems(generator, problem_list, params, prompts_per_call=max(1, batch_size // n))
    for s in samples:
        s.metadata["model"] = model
    save_samples(out, samples)
    console.print(f"{len(samples)} samples for {len(problem_list)} problems written to {out}")


@train_app.command("sft")
def train_sft_command(
    out: str = typer.Option(..., "--out", help="Run directory: final/ (the model, loads by path), metrics, "
                            "tensorboard/, checkpoint-STEP/."),
    model: Model = "tiny",
    problems: Problems = "bundled",
    split: Split = "train",
    val_split: str = typer.Option("validation", "--val-split", help="Split for pass@1 during training ('' = none)."),
    limit: Limit = None,
    config: ConfigFile = None,
    set_: Overrides = None,
    device: str = typer.Option(None, "--device", help="cpu, cuda (default: cuda when available)."),
) -> None:
    """Supervised fine-tuning on reference solutions (loss on the solution only), with validation pass@1."""
    from codelhf.policy import load_policy
    from codelhf.train.sft import SFTConfig, train_sft

    cfg = load_config(SFTConfig, config, set_ or [])
    train = load_problems(problems, split=split, limit=limit)
    val = load_problems(problems, split=val_split) if val_split else []
    if val:
        warn_if_local(cfg.backend)
    policy, tokenizer = load_policy(model, device=device, dtype="float32")
    result = train_sft(policy, tokenizer, train, cfg, out, val_problems=val)
    last = f"; validation pass@1 {result.evals[-1]['eval/pass@1']:.3f}" if result.evals else ""
    console.print(f"{result.steps} steps, final loss {result.losses[-1]:.4f}{last}; model saved in {result.final_dir}")


@tiny_app.command("build")
def tiny_build_command(out: str = typer.Option(None, "--out", help="Where to write it (default: the package's own "
                                               "codelhf/tiny_model, which `--model tiny` loads).")) -> None:
    """Rebuild the tiny bundled model from scratch with its recipe (codelhf/tiny.py), deterministically."""
    from codelhf.policy import TINY_DIR
    from codelhf.tiny import build_tiny

    start = time.time()
    path = build_tiny(out or TINY_DIR)
    console.print(f"tiny model built in {time.time() - start:.0f} s: {path}")


@app.command()
def validate(
    problems: Problems,
    format: Format = None,
    split: Split = None,
    limit: Limit = None,
    skip_bad: SkipBad = False,
    backend: Backend = "docker",
    workers: Workers = None,
    max_solutions: int = typer.Option(None, "--max-solutions", help="Run at most this many correct (and as many "
                                      "incorrect) solutions per problem."),
    out: str = typer.Option(None, "--out", help="Write the suspect problems here, one JSON object per line."),
    explain: bool = typer.Option(False, "--explain", help="For each failing reference (and passing incorrect "
                                 "solution): the exact program that ran, with the dialect's header and wrapper, "
                                 "and its first failing test."),
    json_summary: JsonSummary = False,
) -> None:
    """Run a dataset's reference and incorrect solutions against its tests: which references fail (verdict and
    first failing test), and which problems' tests look wrong."""
    problem_list = load_problems(problems, format=format, split=split, limit=limit, skip_bad=skip_bad)
    warn_if_local(backend)
    with Executor(backend=backend, workers=workers) as ex:
        report = run_validation(problem_list, ex, max_solutions=max_solutions, progress=not json_summary)
    if out:
        write_jsonl(out, report.suspects())
    if json_summary:
        print(json.dumps(report.summary()))
        return
    skipped = ", ".join(f"{language} {n}" for language, n in sorted(report.skipped_languages.items()))
    console.print(f"{report.problems} problems; correct solutions accepted {report.solutions_accepted}/"
                  f"{report.solutions_total}; incorrect solutions rejected {report.incorrect_rejected}/"
                  f"{report.incorrect_total}; {report.solutions_skipped} solution(s) in other languages skipped"
                  + (f" ({skipped})" if skipped else "")
                  + (f"; {report.system_errors} system error(s)" if report.system_errors else ""), soft_wrap=True)
    by_id = {p.id: p for p in problem_list}
    for check in report.checks:
        if not check.failures and not check.suspect:
            continue
        problem = by_id[check.problem_id]
        label = f"[yellow]suspect[/] {escape(check.problem_id)}: {'; '.join(check.reasons)}" if check.suspect else \
            f"{escape(check.problem_id)}: references accepted {check.references_passed}/{check.references_total}"
        console.print(f"  {label} [dim](dialect {escape(problem.dialect)})[/]", soft_wrap=True)
        for failure in check.failures:
            console.print(f"    {failure.describe()}", markup=False, highlight=False, soft_wrap=True)
            if not explain:
                continue
            # typer.echo, not rich: the program exactly as it ran, tabs and all
            typer.echo(f"----- program that ran: {failure.kind} {failure.index} -----\n"
                       f"{program_that_ran(problem, failure).rstrip()}", err=True)
            if failure.test is not None and failure.verdict is not None:
                test, verdict = problem.tests("all")[failure.test], failure.verdict
                typer.echo(f"----- its first failing test: test {failure.test} -----", err=True)
                for name, text in (("input", excerpt(as_text(test.input))), ("expected", verdict.expected),
                                   ("got", verdict.stdout), ("stderr", verdict.stderr)):
                    if text:
                        typer.echo(f"{name}:\n{text.rstrip()}", err=True)
            typer.echo("-----", err=True)
    console.print(f"{report.suspect_problems} suspect problem(s)" + (f", written to {out}" if out else ""))


@app.command()
def evaluate(
    problems: Problems,
    samples: str = typer.Option(None, "--samples", help="Samples JSONL to execute ({problem_id, program | "
                                "completion, language})."),
    verdicts: str = typer.Option(None, "--verdicts", help="Reuse verdicts written by `codelhf execute --out` "
                                 "instead of executing."),
    k: str = typer.Option("1", "--k", help="Comma-separated k for pass@k, e.g. 1,10,100."),
    n_at_k: str = typer.Option(None, "--n-at-k", help="n@k with public-test filtering, e.g. 10@1000 (commas for "
                               "several)."),
    format: Format = None,
    split: Split = None,
    limit: Limit = None,
    skip_bad: SkipBad = False,
    backend: Backend = "docker",
    workers: Workers = None,
    out: str = typer.Option(None, "--out", help="Write the verdicts of the executed samples here (JSONL)."),
    plot: str = typer.Option(None, "--plot", help="Write a bar chart of pass@k by difficulty (PNG)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the confidence interval."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    json_summary: JsonSummary = False,
) -> None:
    """pass@k (unbiased estimator) and n@k (AlphaCode filtering), overall and by difficulty, with bootstrap CIs."""
    from codelhf.evaluate import evaluate as run_evaluation
    from codelhf.evaluate import parse_ks, parse_n_at_k, plot_by_difficulty, render_table

    ks = parse_ks(k)  # bad values fail before anything runs
    n_at = parse_n_at_k(n_at_k) if n_at_k else []
    if not samples and not verdicts:
        raise UserError("nothing to evaluate", "give --samples (executed now) or --verdicts (from execute --out)")
    problem_list = load_problems(problems, format=format, split=split, limit=limit, skip_bad=skip_bad)
    if verdicts:
        verdict_list = load_verdicts(verdicts)
    else:
        sample_list = load_samples(samples)
        warn_if_local(backend)
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
    Console().print(render_table(result))  # the table on stdout, notes on stderr
    sys.stdout.flush()  # the table (stdout) before the notes (stderr)
    for name, why in result.get("undefined", {}).items():
        console.print(f"[yellow]{name} undefined:[/] {why} (no k-subset exists; not extrapolated)")
    if result["problems_without_samples"]:
        console.print(f"[yellow]note:[/] {result['problems_without_samples']} problem(s) had no samples and are "
                      "not counted")
    if plot:
        console.print(f"plot written to {plot}")


@app.command("pairs")
def pairs_command(
    problems: Problems,
    out: str = typer.Option(..., "--out", help="Preference pairs JSONL ({prompt, chosen, rejected, problem_id, ...})."),
    samples: str = typer.Option(None, "--samples", help="Samples JSONL to label by execution (pairs passing with "
                                "failing programs)."),
    verdicts: str = typer.Option(None, "--verdicts", help="With --samples: reuse their verdicts (execute --out)."),
    model: str = typer.Option(None, "--model", help="Sample --n programs per problem from this policy (a hub name, "
                              "a checkpoint directory or tiny), then label."),
    n: int = typer.Option(5, "--n", help="With --model: samples per problem (paper: 5)."),
    temperature: float = typer.Option(1.0, "--temperature", help="With --model: sampling temperature."),
    max_new_tokens: int = typer.Option(160, "--max-new-tokens", help="With --model: longest sample in tokens."),
    format: Format = None,
    split: Split = None,
    limit: Limit = None,
    skip_bad: SkipBad = False,
    max_pairs: int = typer.Option(4, "--max-pairs-per-prompt", help="Cap on pairs per problem."),
    no_reference: bool = typer.Option(False, "--no-reference", help="When no sample passes, make no pair (default: "
                                      "the reference solution is the chosen one)."),
    backend: Backend = "docker",
    workers: Workers = None,
    seed: int = typer.Option(0, "--seed", help="Seed of sampling and of the choice of pairs."),
) -> None:
    """Preference pairs for DPO: samples labelled by execution (--samples, --model), else the set's own solutions."""
    if samples and model:
        raise UserError("give --samples or --model, not both", "--model samples new programs; --samples reads them")
    problem_list = load_problems(problems, format=format, split=split, limit=limit, skip_bad=skip_bad)
    config = PairConfig(max_pairs_per_prompt=max_pairs, reference_when_none_pass=not no_reference, seed=seed)
    if not samples and not model:
        pairs, stats = pairs_from_solutions(problem_list, config)
    else:
        tokenizer = None
        if model:
            from codelhf.generation import SamplingParams, make_generator
            from codelhf.generation.sampling import sample_problems

            generator = make_generator(model)
            tokenizer = generator.tokenizer
            sample_list = sample_problems(generator, problem_list, SamplingParams(
                n=n, temperature=temperature, top_k=200, max_new_tokens=max_new_tokens, seed=seed))
        else:
            sample_list = load_samples(samples)
            ids = {p.id for p in problem_list}
            sample_list = [s for s in sample_list if s.problem_id in ids]
        if verdicts:
            verdict_list = load_verdicts(verdicts)
            if [(v.problem_id, v.sample_index) for v in verdict_list] != \
                    [(s.problem_id, s.sample_index) for s in sample_list]:
                raise UserError(f"{verdicts}: the verdicts do not follow the samples one to one",
                                "write them with `codelhf execute --samples SAME_FILE --out VERDICTS`")
        else:
            warn_if_local(backend)
            with Executor(backend=backend, workers=workers) as ex:
                verdict_list = ex.run(problem_list, sample_list, tests="all")
        pairs, stats = pairs_from_verdicts(problem_list, sample_list, verdict_list, config, tokenizer)
    save_pairs(out, pairs)
    console.print(f"{stats.pairs} pairs from {stats.problems_with_pairs}/{stats.problems} problems written to {out}; "
                  + ", ".join(f"{k} {v}" for k, v in asdict(stats).items() if k not in ("pairs", "problems")))


@train_app.command("dpo")
def train_dpo_command(
    out: str = typer.Option(..., "--out", help="Run directory: metrics.jsonl, tensorboard/, final/ (the model)."),
    pairs: str = typer.Option(..., "--pairs", help="Preference pairs JSONL (from `codelhf pairs`, or any "
                              "{prompt, chosen, rejected} text file)."),
    model: Model = "tiny",
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """DPO (sigmoid loss, β = 0.1) on preference pairs, reference log-probs computed once from the SFT model (the
    reference is --model unless the config's reference is set)."""
    from codelhf.policy import load_policy
    from codelhf.train.dpo import DPOConfig, train_dpo

    cfg = load_config(DPOConfig, config, set_ or [])
    rows = load_pairs(pairs)
    policy, tokenizer = load_policy(model, device=cfg.device or None)
    result = train_dpo(policy, tokenizer, rows, cfg, out)
    console.print(f"{result.steps} steps on {len(rows)} pairs; mean margin "
                  f"{result.metrics.get('rewards/margins', 0.0):.4f}, accuracy "
                  f"{result.metrics.get('rewards/accuracies', 0.0):.3f}; model saved in {result.checkpoint}")


@train_app.command("dpo-iter")
def train_dpo_iter_command(
    out: str = typer.Option(..., "--out", help="Run directory: round<r>/ (samples, verdicts, pairs, model), final/."),
    model: Model = None,
    problems: ConfigProblems = None,
    rounds: int = typer.Option(None, "--rounds", help="Rounds of sample → label → pairs → DPO (default: 3)."),
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """Iterative DPO (Xu et al. 2024): sample, label by execution, pair, DPO against the previous round; repeat."""
    from codelhf.train.dpo import DPOIterConfig, train_dpo_iter

    cfg = load_config(DPOIterConfig, config, set_ or [], flags={"model": model, "problems": problems, "rounds": rounds})
    warn_if_local(cfg.backend)
    result = train_dpo_iter(cfg, out)
    for r, metrics in result.history:
        console.print(f"round {r}: " + ", ".join(f"{k.removeprefix('eval/')} {v:.4f}" for k, v in metrics.items()))
    console.print(f"final model in {result.out_dir / 'final'}")


@app.command("study")
def study_command(
    model: Model = None,
    problems: ConfigProblems = None,
    out: str = typer.Option(None, "--out", help="Run directory (default: runs/<date-time>); an existing one "
                            "is resumed."),
    config: ConfigFile = None,
    set_: Overrides = None,
    only: str = typer.Option(None, "--only", help="Comma-separated subset of ppo,ppo_group,dpo,dpo_offline,dpo_iter "
                             "(SFT always runs)."),
    report_only: bool = typer.Option(False, "--report-only", help="Rewrite the report of --out from its "
                                     "results.json; run nothing."),
) -> None:
    """SFT vs PPO vs DPO vs DPO-Iter with the same sampling budget; writes report.md/.html with plots."""
    from codelhf.report import write_report
    from codelhf.study import StudyConfig, default_run_dir, run_study

    if report_only:
        if out is None or not (Path(out) / "results.json").exists():
            raise UserError("--report-only needs --out DIR of a finished study (with results.json)")
        console.print(f"report: {write_report(out)}")
        return
    run_dir = Path(out) if out else default_run_dir()
    if config is None and (run_dir / "config.yaml").exists():
        config = str(run_dir / "config.yaml")  # resuming: the run's own settings
    arms = ["sft", *(m.strip().replace("-", "_") for m in only.split(","))] if only else None
    cfg = load_config(StudyConfig, config, set_ or [], flags={"model": model, "problems": problems, "only": arms})
    warn_if_local(cfg.backend)
    console.print(f"study → {run_dir}")
    report = run_study(cfg, run_dir)
    console.print(f"[bold green]report:[/] {report} (and report.html, plots beside it)")


@app.command("ablation")
def ablation_command(
    out: str = typer.Option(..., "--out", help="Directory for the four runs, ablation.md and ablation.json."),
    samples: int = typer.Option(1024, "--samples", help="Training samples (programs generated and executed) per "
                                "variant."),
    config: ConfigFile = None,
    set_: Overrides = None,
) -> None:
    """The paper's PPO ablation: plain PPO, + advantage norm, + large batch, + reference EMA, on one budget."""
    from codelhf.ablation import run_ablation

    run_ablation(out, samples, config, set_ or [])
    typer.echo((Path(out) / "ablation.md").read_text())


@app.command("synthetic")
def synthetic_command(seed: int = typer.Option(0, "--seed", help="Seed of every fit and of PPO's sampling.")) -> None:
    """The paper's 8×8 synthetic case: DPO moves mass onto responses no pair covers; sampled PPO does not."""
    import torch

    from codelhf.train.synthetic import SyntheticConfig, report, run_synthetic

    torch.set_num_threads(1)
    typer.echo(report(run_synthetic(SyntheticConfig(seed=seed))))


@integrations_app.command("path")
def integrations_path(trainer: str = typer.Argument(..., help="openrlhf, verl or trl.")) -> None:
    """Print the adapter's file, for trainers that load a reward function by path (--reward.remote_url ...)."""
    print(adapter_path(trainer))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (others than loopback need a "
                             "token)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    token_file: str = typer.Option(None, "--token-file", help="File holding the bearer token (default: "
                                   "$CODELHF_SERVE_TOKEN)."),
    insecure_no_auth: bool = typer.Option(False, "--insecure-no-auth", help="Serve without a token (loopback "
                                          "only)."),
    backend: str = typer.Option("docker", "--backend", help="docker, local (host, weaker) or ray (the cluster)."),
    workers: Workers = None,
    kind: str = typer.Option("binary", "--kind", help="Reward: binary, fraction, graded, or a registered one."),
    scale: float = typer.Option(1.0, "--scale", help="Reward of a sample that passes every test."),
    tests: str = typer.Option("all", "--tests", help="Which tests to run: all, public or hidden."),
    problems: str = typer.Option(None, "--problems", help="Problem source for problems given by id."),
    max_body_mb: float = typer.Option(16.0, "--max-body-mb", help="Largest request body."),
    max_items: int = typer.Option(4096, "--max-items", help="Most samples in one request."),
    max_in_flight: int = typer.Option(256, "--max-in-flight", help="Most requests admitted at once (then 429)."),
) -> None:
    """An HTTP reward service: OpenRLHF's remote-reward JSON at /get_reward, full verdicts at /score."""
    try:
        from codelhf.integrations.server import ServeConfig, read_token
        from codelhf.integrations.server import serve as run_server
    except ImportError as e:
        raise UserError(f"codelhf serve needs FastAPI and uvicorn ({e})", "pip install 'codelhf[serve]'")

    config = ServeConfig(host=host, port=port, token=read_token(token_file=token_file),
                         insecure_no_auth=insecure_no_auth, max_body_bytes=int(max_body_mb * 2**20),
                         max_items=max_items, max_in_flight=max_in_flight)
    scorer = ScorerConfig.from_env(kind=kind, scale=scale, tests=tests, backend=backend, workers=workers,
                                   problems=problems)
    warn_if_local(backend)
    console.print(f"codelhf reward service on http://{host}:{port} (/get_reward, /score, /health)"
                  + ("" if config.token else "; no authentication"))
    run_server(config, scorer)


def main() -> None:
    try:
        app()
    except UserError as e:
        # escaped and unwrapped: messages hold paths and "[split]" that must reach the user intact
        console.print(f"[bold red]error:[/] {escape(e.message)}", soft_wrap=True)
        if e.hint:
            console.print(f"  [yellow]hint:[/] {escape(e.hint)}", soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
