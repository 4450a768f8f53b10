"""Benchmark: classifier throughput at batch 32 on this machine's cores, load time and memory.

Stories are the held-out test split's texts (the team's own), classified through the same
``Classifier`` the daemon uses. Reports items per second (median of several runs), the model load
time and the resident memory after load and after the runs.

    python bench/classify_speed.py [--runs 5] [--items 640]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(classifier, stories, runs: int) -> float:  # type: ignore[no-untyped-def]
    classifier.classify(stories[:64])  # warm-up
    rates = []
    for run in range(runs):
        begin = time.perf_counter()
        classifier.classify(stories)
        rates.append(len(stories) / (time.perf_counter() - begin))
        print(f"run {run + 1}: {rates[-1]:.0f} items/s", file=sys.stderr)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--items", type=int, default=640)
    arguments = parser.parse_args()
    started = time.perf_counter()
    from tensiond.classify.model import Classifier, Story
    from tensiond.config.load import default_settings

    settings = default_settings()
    classifier = Classifier.load(settings)  # as the daemon runs it (model.quantize default)
    load_seconds = time.perf_counter() - started
    after_load = rss_mb()
    lines = (ROOT / "models" / "splits" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    stories = [Story(str(i), texts[i % len(texts)]) for i in range(arguments.items)]
    other = "feed_forward" if settings.model.quantize == "none" else "none"
    compared = Classifier.load(
        settings.model_copy(update={"model": settings.model.model_copy(update={"quantize": other})})
    )
    baseline = measure(compared, stories, arguments.runs)
    del compared
    rate = measure(classifier, stories, arguments.runs)
    import torch

    print(
        f"| classify, batch {classifier.batch_size}, {torch.get_num_threads()} threads, "
        f"quantize={settings.model.quantize} | {rate:.0f} items/s (median of {arguments.runs}) | "
        f"quantize={other} in the same run {baseline:.0f} items/s ({rate / baseline:.2f}x) | "
        f"load {load_seconds:.1f} s | RSS after load {after_load:.0f} MB |"
    )


if __name__ == "__main__":
    main()
