"""Does the learned ranker recover a coordinator's preference? Prints JSON; never asserts.

    python -m benchmarks.ranker_simulation --decisions 400 --json

On a fresh temporary database with the demo data, a simulated coordinator opens suggestion
lists (logged as impressions by the service, exactly as in the UI) for needs cloned from the
demo needs with varied regions, and proposes the two experts a hidden preference likes best:
relevant text, but above all local experts (same province), with spare capacity and recent
work. About a third of the experts are made full so that capacity varies. Training and
evaluation then run through ``web.matching.ranking.train`` — the code path of
``flask matcher train-ranker`` — which fits on older lists and compares on newer ones.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HIDDEN = {"lexical": 0.35, "semantic": 0.0, "discipline": 0.0, "region": 0.3, "cooperation_mode": 0.0, "capacity": 0.2, "recency": 0.15}


def run(decisions: int, seed: int) -> dict:
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="ranker-sim-"))
    os.environ["MATCHER_ENV"] = "testing"
    from flask_migrate import upgrade

    from web import create_app

    app = create_app({"TESTING": True, "INSTANCE_DIR": str(root), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'sim.db'}",
                      "INDEX_DIR": str(root / "index"), "RATELIMIT_ENABLED": False})
    with app.app_context():
        import sqlalchemy as sa

        from matcher.taxonomy import load_taxonomy
        from models import ExpertProfile, Need, NeedStatus, Role, User, db, write_transaction
        from web.domain.matches import propose
        from web.infra.demo import load_demo, read_dataset
        from web.matching.impressions import flush_impressions
        from web.matching.indexing import Indexer
        from web.matching.ranking import train
        from web.matching.search import suggest

        upgrade()
        load_demo(read_dataset(), password="simulation-only-password")
        with write_transaction() as session:
            for profile in session.scalars(sa.select(ExpertProfile)):
                if rng.random() < 0.35:
                    profile.capacity = 0
        provinces = list(load_taxonomy().provinces)[:31]
        templates = list(db.session.scalars(sa.select(Need)))
        clones = []
        with write_transaction() as session:
            for number in range(decisions // 2 + 1):
                base = templates[number % len(templates)]
                region = rng.choice(provinces[:8]) if rng.random() < 0.7 else base.region
                clone = Need(organization_id=base.organization_id, created_by_id=base.created_by_id,
                             title=base.title, description=base.description, industry_codes=base.industry_codes,
                             region=region, cooperation_modes=[], status=NeedStatus.OPEN)
                session.add(clone)
                clones.append(clone)
        started = time.perf_counter()
        indexer = Indexer(app.config["INDEX_DIR"], app.config["MATCHER_EMBEDDING_MODEL"])
        indexer.start()
        coordinator = db.session.scalar(sa.select(User).where(User.role == Role.COORDINATOR))
        made = 0
        for clone in clones:
            if made >= decisions:
                break
            shown = suggest(coordinator, clone.id, limit=20)
            flush_impressions()
            utility = {view.expert.id: sum(HIDDEN[r["code"]] * r["value"] for r in view.suggestion.reasons if r["code"] in HIDDEN)
                       + rng.gauss(0, 0.02) for view in shown}
            for expert_id in sorted(utility, key=lambda e: -utility[e])[:2]:
                propose(coordinator, clone.id, expert_id)
                made += 1
        simulate_s = time.perf_counter() - started
        report = train()
        return {"decisions": report.decisions, "ndcg_default": round(report.ndcg_current, 4),
                "ndcg_learned": round(report.ndcg_learned, 4), "activated": report.activated,
                "train_lists": report.train_lists, "test_lists": report.test_lists,
                "learned_weights": report.weights, "hidden_preference": HIDDEN, "simulate_s": round(simulate_s, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=400)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(run(args.decisions, args.seed), ensure_ascii=False, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
