"""``spatial-ros bench``: benchmarks. ``bench refer`` scores referrers (baselines or a trained
checkpoint) on a dataset split; further benchmarks register as sibling subcommands."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from spatial_ros.cli._errors import reporting_errors


def make_predictor(spec: str, device: str = "auto"):
    """``centre`` | ``random`` | ``geometric`` | ``model:PATH`` | ``model+check:PATH`` (the
    model's answers checked against the phrase's colour and kind) -> (referrer, name)."""
    kind, _, path = spec.partition(":")
    if kind in ("model", "model+check"):
        from spatial_ros.perception.referrers import load_referrer

        return load_referrer("model", path, device, attribute_check=kind == "model+check")
    from spatial_ros.data.baselines import make_baseline

    return make_baseline(spec), spec


def _eval_chunk(spec: str, device: str, data: str, split: str, limit: int | None,
                start: int, stop: int) -> list:
    """One worker's share of a split (spawned process: builds its own referrer)."""
    from spatial_ros.data.dataset import load_split
    from spatial_ros.data.evaluate import evaluate

    referrer, _ = make_predictor(spec, device)
    samples = load_split(data, split, limit=limit)[start:stop]
    return evaluate(referrer, samples, progress=False)


def _evaluate_parallel(spec: str, args: argparse.Namespace, n: int) -> list:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    bounds = [round(i * n / args.workers) for i in range(args.workers + 1)]
    from spatial_ros.common.lifetime import die_with_parent

    with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn"),
                             initializer=die_with_parent) as pool:
        futures = [pool.submit(_eval_chunk, spec, args.device, args.data, args.split,
                               args.limit, a, b) for a, b in itertools.pairwise(bounds)]
        return [r for f in futures for r in f.result()]


def _earlier_results(folder: str | None, ids: set[str]) -> dict[str, list]:
    """Per-sample results of an earlier run (``results_*.jsonl``) on the same samples, so a
    new predictor lands in one table with baselines that are slow to re-run."""
    from spatial_ros.data.evaluate import SampleResult

    if folder is None:
        return {}
    found = {}
    for path in sorted(Path(folder).glob("results_*.jsonl")):
        rows = [SampleResult(**json.loads(line)) for line in path.read_text().splitlines()]
        if {r.id for r in rows} != ids:
            raise ValueError(f"{path} holds other samples than this split/limit; re-run it")
        found[path.stem.removeprefix("results_")] = rows
    if not found:
        raise FileNotFoundError(f"no results_*.jsonl in {folder}")
    return found


def _refer(args: argparse.Namespace) -> int:
    from spatial_ros.data.dataset import load_split
    from spatial_ros.data.evaluate import evaluate, markdown_report
    from spatial_ros.data.plots import accuracy_bars

    samples = load_split(args.data, args.split, limit=args.limit)
    if not samples:
        raise SystemExit(f"split '{args.split}' of {args.data} is empty")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = [s.strip() for p in args.predictor for s in p.split(",") if s.strip()]
    results = _earlier_results(args.include_results, {s.id for s in samples})
    specs = specs or ([] if results else ["centre", "random", "geometric"])
    for spec in specs:
        referrer, name = make_predictor(spec, args.device)
        if args.workers > 1:
            results[name] = _evaluate_parallel(spec, args, len(samples))
        else:
            results[name] = evaluate(referrer, samples, progress=not args.no_progress,
                                     desc=name)
        safe = name.replace("/", "_").replace(":", "_")
        with (out / f"results_{safe}.jsonl").open("w") as fh:
            for r in results[name]:
                fh.write(json.dumps(r.to_dict()) + "\n")
    title = f"refer: {args.data} split={args.split} (n={len(samples)})"
    report = markdown_report(results, title)
    (out / "refer.md").write_text(report)
    accuracy_bars(results, out / "refer_by_kind.png", "kind", title)
    accuracy_bars(results, out / "refer_by_steps.png", "steps", title)
    print(report)
    print(f"wrote {out / 'refer.md'}, {out / 'refer_by_kind.png'}, {out / 'refer_by_steps.png'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (referring accuracy, ...)")
    bsub = p.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    r = bsub.add_parser("refer", help="referring / placement / grasp metrics on a split")
    r.add_argument("--data", required=True, help="dataset directory")
    r.add_argument("--split", default="test")
    r.add_argument("--predictor", action="append", default=[],
                   help="centre | random | geometric | model:PATH | model+check:PATH "
                        "(repeat or comma-separate)")
    r.add_argument("--out", required=True, help="directory for refer.md, PNG charts, JSONL")
    r.add_argument("--limit", type=int, default=None, help="first N samples only")
    r.add_argument("--device", default="auto", help="for model predictors")
    r.add_argument("--workers", type=int, default=1,
                   help="evaluate in this many processes (latency then includes contention)")
    r.add_argument("--include-results", default=None, metavar="DIR",
                   help="also tabulate the results_*.jsonl of an earlier run on the same split")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=reporting_errors(_refer))
