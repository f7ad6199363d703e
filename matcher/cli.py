"""``python -m matcher score ...``: the engine without the service."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from .batch import InputError, score_files
from .config import MatcherConfig
from .engine import Engine


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m matcher", description="Industry–academia matching engine")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score", help="score needs against experts from JSON Lines files")
    score.add_argument("--experts", required=True, type=Path, help="experts, one JSON object per line")
    score.add_argument("--needs", required=True, type=Path, help="needs, one JSON object per line")
    score.add_argument("--out", required=True, type=Path, help="CSV without header: need_id,expert_id,score")
    group = score.add_mutually_exclusive_group()
    group.add_argument("--all-pairs", action="store_true", help="write every need-expert pair")
    group.add_argument("--top", type=int, default=20, help="experts per need (default 20)")
    score.add_argument("--model", default=os.environ.get("MATCHER_EMBEDDING_MODEL", ""),
                       help="sentence-transformers model directory for the 'st' channel (default: $MATCHER_EMBEDDING_MODEL "
                            "or the packaged all-MiniLM-L6-v2)")
    score.add_argument("--channels", default=os.environ.get("MATCHER_DENSE_CHANNELS", ""),
                       help="dense channels, comma-separated: st (sentence-transformers), e5 (multilingual-e5-small); "
                            "default st,e5 (as the service)")
    score.add_argument("--lexical-only", action="store_true", help="skip the dense channels (no model is loaded)")
    score.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s")
    if args.top is not None and args.top < 1:
        print("error: --top must be at least 1", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        channels = ()
        if not args.lexical_only:
            from .embedding import load_channels, parse_channel_names

            try:
                names = parse_channel_names(args.channels)
            except ValueError as exc:
                print(f"error: --channels: {exc}", file=sys.stderr)
                return 2
            channels, errors = load_channels(args.model or None, names)
            if errors:
                print("error: " + "; ".join(f"dense channel {n}: {e}" for n, e in errors.items()), file=sys.stderr)
                return 2
        engine = Engine(MatcherConfig(), channels)
        rows = score_files(engine, args.experts, args.needs, args.out, top=args.top, all_pairs=args.all_pairs,
                           progress=not args.quiet)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"wrote {rows} rows to {args.out} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0
