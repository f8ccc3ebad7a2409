"""`python -m codelhf.datasets.bundled [OUT_DIR]`: print the set's statistics; with OUT_DIR, also write one
canonical JSONL file per split there (readable by `codelhf.datasets.load_problems` and other tools)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from codelhf.datasets.bundled import SPLITS, load_bundled, stats
from codelhf.problems import save_problems_jsonl

if __name__ == "__main__":
    print(json.dumps(stats(load_bundled(None)), indent=1))
    if len(sys.argv) > 1:
        for split in SPLITS:
            path = Path(sys.argv[1]) / f"bundled-{split}.jsonl"
            print(f"{save_problems_jsonl(path, load_bundled(split))} problems -> {path}")
