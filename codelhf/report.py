"""The study report: `report.md` and `report.html` with PNG plots, written from a run directory's `results.json`.

Everything in the report is read from `results.json` (which the study writes from the evaluation and metrics
files), so a run can be re-reported without re-running anything: `codelhf study --report-only DIR`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from markdown_it import MarkdownIt

from codelhf.plots import grouped_bars

METHOD_ORDER = ["sft", "ppo", "ppo_group", "dpo", "dpo_offline", "dpo_iter"]
METHOD_LABELS = {"sft": "SFT", "ppo": "PPO", "ppo_group": "PPO-group", "dpo": "DPO", "dpo_offline": "DPO-offline",
                 "dpo_iter": "DPO-Iter"}
GROUP_LABELS = {"seen": "seen families", "held_out": "held-out families"}
VERDICT_COLORS = {"AC": "#2e7d32", "WA": "#c62828", "RE": "#ef6c00", "CE": "#6a1b9a", "TLE": "#1565c0",
                  "MLE": "#00838f", "OLE": "#795548", "SE": "#616161"}

# Xu et al. 2024 (arXiv 2404.10719), code-generation results as reported in the paper.
PAPER_APPS = {  # APPS pass@5, CodeLlama-34B: introductory / interview / competition
    "SFT": (38.6, 10.1, 3.9), "DPO-Iter": (34.2, 9.3, 3.7), "PPO": (44.4, 18.0, 9.1)}
PAPER_CODE_CONTESTS = {  # CodeContests 10@1k, validation / test
    "SFT": (10.3, 15.2), "DPO": (0.0, 0.0), "DPO-Iter": (3.5, 3.2), "PPO": (19.7, 22.4)}
PAPER_ABLATION = {  # APPS pass@5 intro / inter / comp
    "SFT": (38.6, 10.1, 3.9), "PPO, plain": (18.0, 2.4, 1.1), "+ advantage norm": (38.1, 11.4, 4.6),
    "+ large batch": (42.3, 14.6, 7.5), "+ reference EMA": (44.4, 18.0, 9.1)}


def _methods(results: dict[str, Any]) -> list[str]:
    present = results.get("methods", {})
    return [m for m in METHOD_ORDER if m in present] + [m for m in present if m not in METHOD_ORDER]


def _label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _ks(results: dict[str, Any]) -> list[str]:
    """The pass@k keys present in every method's evaluation, in k order."""
    keys: set[str] | None = None
    for m in _methods(results):
        found = {k for k in results["methods"][m]["eval"] if k.startswith("pass@") and not k.endswith("_ci")}
        keys = found if keys is None else keys & found
    return sorted(keys or [], key=lambda k: int(k.split("@")[1]))


def _n_at_k_keys(results: dict[str, Any]) -> list[str]:
    keys: set[str] | None = None
    for m in _methods(results):
        found = {k for k in results["methods"][m]["eval"] if "@" in k and not k.startswith("pass@")
                 and not k.endswith("_ci") and k.split("@")[0].isdigit()}
        keys = found if keys is None else keys & found
    return sorted(keys or [])


# ---------------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------------


def plot_pass_at_k(results: dict[str, Any], path: Path) -> None:
    series, ks = [], _ks(results)
    for m in _methods(results):
        ev = results["methods"][m]["eval"]
        intervals = [ev.get(f"{k}_ci", [ev[k], ev[k]]) for k in ks]
        series.append((_label(m), [100 * ev[k] for k in ks], [100 * lo for lo, _ in intervals],
                       [100 * hi for _, hi in intervals]))
    grouped_bars(path, ks, series, "% of held-out problems solved",
                 "pass@k on the held-out test split (95% bootstrap CI)")


def plot_paired(results: dict[str, Any], path: Path) -> bool:
    """Each method's paired pass@1 difference from SFT with its 95% interval, overall and per family group."""
    methods = [m for m in _methods(results) if "paired" in results["methods"][m]]
    if not methods:
        return False
    series = []
    for group in ["all"] + _groups(results):
        pairs = [results["methods"][m]["paired"].get(group, {}) for m in methods]
        pairs = [p if "diff" in p else {"diff": 0.0, "ci": [0.0, 0.0]} for p in pairs]
        series.append((GROUP_LABELS.get(group, "all problems"), [100 * p["diff"] for p in pairs],
                       [100 * p["ci"][0] for p in pairs], [100 * p["ci"][1] for p in pairs]))
    grouped_bars(path, [_label(m) for m in methods], series, "pass@1 − SFT's pass@1 (points)",
                 "Paired difference from SFT on the held-out test split (95% CI)")
    return True


def plot_learning_curves(results: dict[str, Any], path: Path) -> bool:
    """Validation pass rate against training samples and against wall time; False when no method has a curve."""
    curves = {m: results["methods"][m].get("curve") or [] for m in _methods(results)}
    if not any(curves.values()):
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for m, points in curves.items():
        if not points:
            continue
        rates = [100 * p["pass_rate"] for p in points]
        for ax, x in zip(axes, ("samples", "time_s")):
            ax.plot([p[x] for p in points], rates, marker="o", label=_label(m))
    axes[0].set_xlabel("training samples (programs generated and executed)")
    axes[1].set_xlabel("wall time (s)")
    for ax in axes:
        ax.set_ylabel("validation pass rate (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Learning curves")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_verdicts(results: dict[str, Any], path: Path) -> None:
    methods = _methods(results)
    fig, ax = plt.subplots(figsize=(7, 4))
    bottoms = [0.0] * len(methods)
    for status, color in VERDICT_COLORS.items():
        shares = []
        for m in methods:
            counts = results["methods"][m]["eval"].get("verdicts", {})
            total = sum(counts.values()) or 1
            shares.append(100 * counts.get(status, 0) / total)
        if any(shares):
            ax.bar([_label(m) for m in methods], shares, bottom=bottoms, color=color, label=status)
            bottoms = [b + s for b, s in zip(bottoms, shares)]
    ax.set_ylabel("% of test-split samples")
    ax.set_title("Verdict of each sample (first failing test)")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------------------------


def _groups(results: dict[str, Any]) -> list[str]:
    return list(results.get("info", {}).get("groups", {}))


def _main_table(results: dict[str, Any]) -> str:
    ks, nks, groups = _ks(results), _n_at_k_keys(results), _groups(results)
    head = ("| method | " + " | ".join(ks + nks + [f"pass@1 {GROUP_LABELS.get(g, g)}" for g in groups])
            + " | samples/problem | train samples | train time (s) |")
    rows = [head, "|" + "---|" * (len(ks) + len(nks) + len(groups) + 4)]
    for m in _methods(results):
        ev, tr = results["methods"][m]["eval"], results["methods"][m].get("train", {})
        cells = []
        for k in ks:
            lo, hi = ev.get(f"{k}_ci", [None, None])
            ci = f" [{_pct(lo)}, {_pct(hi)}]" if lo is not None else ""
            cells.append(f"{_pct(ev[k])}{ci}")
        cells += [_pct(ev[k]) for k in nks]
        cells += [_pct(results["methods"][m].get("groups", {}).get(g)) for g in groups]
        rows.append(f"| {_label(m)} | " + " | ".join(cells) +
                    f" | {ev.get('n_samples_per_problem', '–')} | {tr.get('samples', '–')} | {tr.get('wall_s', '–')} |")
    return "\n".join(rows)


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}"


def _diff_cell(paired: dict[str, Any] | None) -> str:
    if not paired or not paired.get("n_problems"):
        return "–"
    lo, hi = paired["ci"]
    return f"{_signed(paired['diff'])} [{_signed(lo)}, {_signed(hi)}]"


def _paired_table(results: dict[str, Any]) -> str:
    """Each method minus SFT on pass@1, paired (same problems, same sampling seeds), 95% bootstrap over problems."""
    groups = _groups(results)
    rows = ["| method | Δ pass@1, all | " + " | ".join(f"Δ {GROUP_LABELS.get(g, g)}" for g in groups)
            + (" | " if groups else "") + "problems better / worse | checkpoint evaluated |",
            "|" + "---|" * (len(groups) + 4)]
    for m in _methods(results):
        entry = results["methods"][m]
        if "paired" not in entry:
            continue
        paired = entry["paired"]
        cells = [_diff_cell(paired.get("all"))] + [_diff_cell(paired.get(g)) for g in groups]
        everything = paired.get("all", {})
        notes = "; ".join(entry.get("train", {}).get("notes", [])) or "–"
        rows.append(f"| {_label(m)} | " + " | ".join(cells)
                    + f" | {everything.get('better', 0)} / {everything.get('worse', 0)} | {notes} |")
    return "\n".join(rows)


def _resolved(paired: dict[str, Any]) -> str:
    """'above', 'below' or 'level with' SFT by whether the paired 95% interval excludes 0."""
    lo, hi = paired["ci"]
    return "above" if lo > 0 else "below" if hi < 0 else "level with"


def ranking(results: dict[str, Any]) -> str:
    """The order the paired differences give, with which gaps to SFT are resolved."""
    entries = [(m, results["methods"][m]["paired"]["all"]) for m in _methods(results)
               if "paired" in results["methods"][m] and results["methods"][m]["paired"]["all"].get("n_problems")]
    if not entries:
        return ""
    ordered = sorted(entries + [("sft", {"diff": 0.0})], key=lambda item: -item[1]["diff"])
    chain = " > ".join(_label(m) if m == "sft" else f"{_label(m)} ({_signed(p['diff'])})" for m, p in ordered)
    claims = [f"{_label(m)} is {_resolved(p)} SFT ({_diff_cell(p)} points)" for m, p in entries]
    return (f"Ranking by paired pass@1 difference from SFT (points): {chain}. " + "; ".join(claims) +
            ". A gap counts as resolved only when its 95% interval excludes 0.")


def _verdict_table(results: dict[str, Any]) -> str:
    statuses = [s for s in VERDICT_COLORS if any(results["methods"][m]["eval"].get("verdicts", {}).get(s)
                                                 for m in _methods(results))]
    rows = ["| method | " + " | ".join(statuses) + " |", "|" + "---|" * (len(statuses) + 1)]
    for m in _methods(results):
        counts = results["methods"][m]["eval"].get("verdicts", {})
        rows.append(f"| {_label(m)} | " + " | ".join(str(counts.get(s, 0)) for s in statuses) + " |")
    return "\n".join(rows)


def _paper_tables() -> str:
    apps = ["| method | intro | interview | competition |", "|---|---|---|---|"]
    apps += [f"| {m} | " + " | ".join(f"{v:.1f}" for v in vals) + " |" for m, vals in PAPER_APPS.items()]
    cc = ["| method | valid | test |", "|---|---|---|"]
    cc += [f"| {m} | " + " | ".join(f"{v:.1f}" for v in vals) + " |" for m, vals in PAPER_CODE_CONTESTS.items()]
    return ("APPS pass@5 (CodeLlama-34B):\n\n" + "\n".join(apps) +
            "\n\nCodeContests 10@1k:\n\n" + "\n".join(cc))


def reading(results: dict[str, Any]) -> str:
    """One honest paragraph: where our ordering agrees with the paper's and where it does not, and why it might."""
    methods = _methods(results)
    if "sft" not in methods or not any("paired" in results["methods"][m] for m in methods):
        return "Not enough methods were run to compare with the paper."
    paper = {"ppo": ("above", "the paper finds PPO above SFT (APPS and CodeContests)"),
             "ppo_group": ("above", "the paper has no group-baseline arm, but finds PPO above SFT"),
             "dpo": ("below", "the paper finds DPO below SFT (0.0 on CodeContests)"),
             "dpo_offline": ("below", ("the paper's DPO on CodeContests trains on the set's own solutions, offline, "
                                      "and collapses to 0.0")),
             "dpo_iter": ("below", "the paper finds DPO-Iter below SFT on both APPS and CodeContests")}
    claims = [("The paper's ranking is PPO > SFT > DPO-Iter on APPS (pass@5, CodeLlama-34B) and PPO > SFT > DPO-Iter >"
              " DPO on CodeContests (10@1k); ours, by paired pass@1 difference, is in the section above.")]
    for m in methods:
        if m not in paper or "paired" not in results["methods"][m]:
            continue
        rel = _resolved(results["methods"][m]["paired"]["all"])
        expected, text = paper[m]
        verdict = ("agrees" if rel == expected else
                   "neither confirms nor contradicts it" if rel == "level with" else "disagrees")
        claims.append(f"{_label(m)} is {rel} SFT, and {text}: this {verdict}.")
    return (
        " ".join(claims) +
        " Read this with the scale in mind: the paper trains 7B–34B models on thousands of real problems, while the"
        " default study trains a tiny model on templated problems for minutes on a CPU, whose SFT corpus carries"
        " known-incorrect solutions on purpose (see the notes at the top). The paper itself reports that at"
        " 7B PPO did not beat SFT (PPO needs enough capacity), and that DPO depends on how close the preference data"
        " is to the model's own outputs. Differences whose paired intervals include 0 are not evidence either way;"
        " more seeds, a larger budget and more test samples narrow them.")


def _ablation_section(results: dict[str, Any]) -> str:
    ablation = results.get("ablation")
    if not ablation:
        return ""
    keys = sorted({k for row in ablation["rows"] for k in row if k.startswith("pass@")},
                  key=lambda k: int(k.split("@")[1]))
    rows = ["| variant | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
    for row in ablation["rows"]:
        rows.append(f"| {row['variant']} | " + " | ".join(_pct(row.get(k)) for k in keys) + " |")
    paper = ["| variant | intro | interview | competition |", "|---|---|---|---|"]
    paper += [f"| {m} | " + " | ".join(f"{v:.1f}" for v in vals) + " |" for m, vals in PAPER_ABLATION.items()]
    return ("## PPO factor ablation\n\nOurs (validation split, tiny model):\n\n" + "\n".join(rows) +
            "\n\nXu et al. 2024 (APPS pass@5, CodeLlama-34B):\n\n" + "\n".join(paper) + "\n")


def _timing_section(results: dict[str, Any]) -> str:
    t = results.get("timing", {})
    lines = ["## Time and executor throughput", ""]
    if "total_s" in t:
        load = f" (load average {t['load_average']} at the end)" if "load_average" in t else ""
        what = "This resumed run (its earlier stages not counted)" if t.get("resumed") else "Whole study"
        lines.append(f"- {what}: {t['total_s']:.0f} s on {t.get('machine', 'this machine')}{load}.")
    for m in _methods(results):
        tr = results["methods"][m].get("train", {})
        if m != "sft" and "wall_s" in tr:
            lines.append(f"- {_label(m)} training (with its validation): {tr['wall_s']} s.")
    if "exec_programs" in t:
        lines.append(f"- Test evaluation: {t['exec_programs']} programs and {t.get('exec_tests', '?')} tests judged in "
                     f"{t.get('eval_s', 0):.0f} s, generation and execution overlapped "
                     f"({t.get('backend', 'docker')} backend, {t.get('workers', '?')} workers).")
    return "\n".join(lines) + "\n"


def _method_notes(results: dict[str, Any]) -> str:
    """How the numbers were made: the checkpoint rule, validation, test sampling, and the model's own notes."""
    info = results.get("info", {})
    lines = [(f"Every method starts from the same SFT checkpoint and is evaluated at the checkpoint that scored best on"
             f" validation ({info.get('n_val_problems', '?')} problems × {info.get('val_samples', '?')} samples, the"
             f" same sampling seed for every checkpoint), the start included: a method that never beats SFT on"
             f" validation is evaluated as SFT. Test samples are drawn at temperature"
             f" {info.get('eval_temperature', '?')} with the training seed as the sampling seed, for SFT and every"
             f" method alike.")]
    if info.get("model_note"):
        lines.append(info["model_note"])
    return "\n\n".join(lines) + "\n\n"


def render_markdown(results: dict[str, Any], has_curves: bool, has_paired: bool = False) -> str:
    info = results.get("info", {})
    header = (f"# codelhf study: SFT vs PPO vs DPO\n\n"
              f"Model `{info.get('model', '?')}` on `{info.get('problems', '?')}`: "
              f"{info.get('n_test_problems', '?')} held-out test problems, seeds {info.get('seeds', '?')}, "
              f"{info.get('budget', '?')} training samples per method and seed, written {info.get('date', '')}.\n\n"
              + _method_notes(results))
    sections = [
        header,
        ("## pass@k on the held-out test split\n\n"
        "Percentages of problems solved (unbiased estimator; 95% bootstrap interval over problems in brackets).\n\n"),
        _main_table(results) + "\n\n" + "![pass@k](pass_at_k.png)\n\n",
        ("## Paired differences from SFT\n\n"
        "Each method's pass@1 minus SFT's, in points, on the same test problems with the same sampling seeds (so"
        " sampling luck cancels), with a 95% bootstrap interval over problems; seen families occur in the train"
        " split, held-out families do not.\n\n"),
        _paired_table(results) + "\n\n" + ranking(results) + "\n\n",
        "![paired differences](paired.png)\n\n" if has_paired else "",
    ]
    if has_curves:
        sections.append("## Learning curves\n\n![learning curves](learning_curves.png)\n\n")
    sections += [
        "## What went wrong in the samples\n\n", _verdict_table(results), "\n\n![verdicts](verdicts.png)\n\n",
        "## Compared with the paper\n\n", _paper_tables(), "\n\n", reading(results), "\n\n",
        _ablation_section(results), "\n", _timing_section(results),
    ]
    return "".join(sections)


HTML_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>codelhf study</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
img {{ max-width: 100%; }}
</style></head><body>
{body}
</body></html>
"""


def write_report(run_dir: str | Path) -> Path:
    """Write report.md, report.html and the plots into `run_dir` from its results.json; returns report.md's path."""
    run_dir = Path(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    plot_pass_at_k(results, run_dir / "pass_at_k.png")
    has_curves = plot_learning_curves(results, run_dir / "learning_curves.png")
    has_paired = plot_paired(results, run_dir / "paired.png")
    plot_verdicts(results, run_dir / "verdicts.png")
    md = render_markdown(results, has_curves, has_paired)
    (run_dir / "report.md").write_text(md)
    html = MarkdownIt("commonmark").enable("table").render(md)
    (run_dir / "report.html").write_text(HTML_PAGE.format(body=html))
    return run_dir / "report.md"
