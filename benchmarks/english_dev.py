"""English development set from real ML/AI paper metadata (ML Anthology), read in place.

Source: the public GitHub repository ``rbnyng/mlanthology`` (Apache-2.0; its paper metadata is
aggregated from PMLR, CVF Open Access, DBLP, Semantic Scholar, OpenAlex, Crossref and
Springer under their own terms), pinned at commit ``a9a5c3f022f18512e1542c0dc08234e9d3c2fdd9``.
Nothing of it is committed here: fetch it with the search tool's ``fetch github:rbnyng/mlanthology``,
which leaves a bare git dir at ``/work/.mirror/rbnyng+mlanthology/repo`` (the default), or point
``MATCHER_EN_DEV_SOURCE`` at that git dir or at a checkout of the same commit. The files read
are ``data/papers/{venue}-{year}.json.gz`` and ``data/legacy/{venue}-legacy.jsonl.gz`` for the
venues in ``FIELDS`` (title, abstract, year, authors with name slugs, venue).

Each venue belongs to one field (``FIELDS``: learning theory, robotics and control, computer
vision, medical and health ML, probabilistic reasoning, AI (JAIR), neural computation). Papers
without authors or with an abstract under 200 characters are dropped; papers whose normalised
title repeats (conference and journal versions) keep only the earliest. ``split`` halves the
rest by the parity of sha1(paper id): ``dev`` to tune, ``test`` to report.

Tasks (each deterministic for its arguments):

* ``expert_routing_task``: experts are real authors (id = name slug) with >= ``min_papers``
  papers in the split, up to ``max_experts`` of them sampled by ``seed``. Of each one paper,
  chosen by ``seed``, is held out; no held-out paper is an achievement of anybody. An expert's
  achievements are its other papers (expert kept if >= ``min_achievements``). Each held-out
  paper is a need (id ``n:<paper id>``; title; first two sentences of the abstract as
  description) whose relevant experts are its authors that are kept experts (a set: score MRR
  by the best-ranked relevant expert, or nDCG with gain 1 for each), up to ``max_needs``.
* ``title_to_abstract_task``: known-item retrieval; one "expert" per paper holding only its
  abstract, its title the need.
* ``cross_need_task``: ONE expert's scores compared ACROSS needs. It reuses the routing task's
  experts and needs. An expert's field is the field of a strict majority of its achievements
  (experts without one are skipped). For each such expert up to ``per_side`` needs of its own
  field (label 1) and as many of other fields (label 0) are sampled from the routing needs
  (``min(own, other, per_side)`` of each, so every expert is balanced); experts with fewer than
  ``min_per_side`` of either are skipped. Metric: for each expert, the ROC AUC of that expert's
  score over its labelled needs (score of the pair (expert, need), e.g. from
  ``engine.rank(need, all_experts=True, limit=None, explain=False)``; an expert missing from a
  ranking scores 0; ties count 1/2), then the mean over experts. 0.5 is chance.

Experts carry their real name and no research areas, keywords or summary (the venue field is
the label, so it is not given to the engine).

    /work/main/.venv/bin/python -m benchmarks.english_dev [--split dev|test] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

from matcher.records import AchievementRecord, ExpertRecord, NeedRecord

REPOSITORY = "rbnyng/mlanthology"
COMMIT = "a9a5c3f022f18512e1542c0dc08234e9d3c2fdd9"
LICENCE = "Apache-2.0 (repository); paper metadata from PMLR, CVF, DBLP, Semantic Scholar, OpenAlex, Crossref, Springer under their terms"
DEFAULT_SOURCE = Path("/work/.mirror/rbnyng+mlanthology/repo")
FIELDS = {
    "colt": "learning theory", "alt": "learning theory",
    "corl": "robotics and control", "l4dc": "robotics and control",
    "wacv": "computer vision",
    "midl": "medical and health ML", "chil": "medical and health ML", "mlhc": "medical and health ML",
    "uai": "probabilistic reasoning", "pgm": "probabilistic reasoning", "isipta": "probabilistic reasoning",
    "jair": "AI (JAIR)",
    "neco": "neural computation",
}
MIN_ABSTRACT = 200
Task = tuple[list[ExpertRecord], list[NeedRecord], dict[str, set[str]]]


def source_path() -> Path:
    return Path(os.environ.get("MATCHER_EN_DEV_SOURCE") or DEFAULT_SOURCE)


def _git(source: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(source), *args], capture_output=True, check=True).stdout


def _raw_files(source: Path) -> list[tuple[str, bytes]]:
    """(path, gzip bytes) of the venue files, from a bare git dir at COMMIT or a checkout."""
    if not source.exists():
        raise FileNotFoundError(f"{source} not found: fetch github:{REPOSITORY} (commit {COMMIT}) "
                                "or set MATCHER_EN_DEV_SOURCE")
    wanted = re.compile(r"data/(papers|legacy)/([a-z0-9]+)-[^/]*\.jsonl?\.gz$")
    if (source / "data" / "papers").is_dir():
        paths = sorted(str(p.relative_to(source)) for p in source.glob("data/*/*.gz"))
        read = lambda path: (source / path).read_bytes()  # noqa: E731
    elif (source / "objects").is_dir():
        try:
            _git(source, "cat-file", "-e", f"{COMMIT}^{{commit}}")
        except subprocess.CalledProcessError as error:
            raise FileNotFoundError(f"{source} has no commit {COMMIT} of {REPOSITORY}: fetch it again") from error
        paths = _git(source, "ls-tree", "-r", "--name-only", COMMIT, "data/papers", "data/legacy").decode().split()
        read = lambda path: _git(source, "show", f"{COMMIT}:{path}")  # noqa: E731
    else:
        raise FileNotFoundError(f"{source} is neither a git dir nor a checkout of {REPOSITORY}")
    return [(p, read(p)) for p in paths if (m := wanted.search(p)) and m.group(2) in FIELDS]


def _slug(author: dict) -> str:
    if author.get("slug"):
        return author["slug"]
    name = unicodedata.normalize("NFKD", f"{author.get('family', '')} {author.get('given', '')}")
    return re.sub(r"[^a-z0-9]+", "-", name.encode("ascii", "ignore").decode().lower()).strip("-")


def _split_of(paper_id: str) -> str:
    return "dev" if int(hashlib.sha1(paper_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


@lru_cache(maxsize=4)
def _load_all(source: str) -> tuple[dict, ...]:
    rows = []
    for path, raw in _raw_files(Path(source)):
        text = gzip.decompress(raw).decode("utf-8")
        rows += [json.loads(line) for line in text.splitlines() if line.strip()] if path.endswith(".jsonl.gz") \
            else json.loads(text)["papers"]
    papers, seen = [], set()
    for row in sorted(rows, key=lambda r: (str(r.get("year", "")), r["bibtex_key"])):
        abstract = " ".join((row.get("abstract") or "").split())
        title = " ".join((row.get("title") or "").split())
        authors = [a for a in row.get("authors") or [] if a.get("family") or a.get("slug")]
        norm = re.sub(r"\W+", " ", title.lower()).strip()
        if len(abstract) < MIN_ABSTRACT or not authors or not norm or norm in seen:
            continue
        seen.add(norm)
        year = str(row.get("year", ""))
        papers.append({
            "id": row["bibtex_key"], "title": title, "abstract": abstract,
            "year": int(year) if year.isdigit() else None,
            "authors": list(dict.fromkeys(_slug(a) for a in authors)),
            "author_names": {_slug(a): f"{a.get('given', '')} {a.get('family', '')}".strip() for a in authors},
            "venue": row["venue"], "field": FIELDS[row["venue"]], "split": _split_of(row["bibtex_key"]),
        })
    return tuple(sorted(papers, key=lambda p: p["id"]))


def load_papers(split: str | None = None, source: Path | None = None) -> list[dict]:
    """Papers as dicts {id, title, abstract, year, authors (slugs), author_names, venue, field,
    split}, sorted by id; ``split`` None gives both halves."""
    if split not in (None, "dev", "test"):
        raise ValueError(f"split must be 'dev', 'test' or None, not {split!r}")
    return [p for p in _load_all(str(source or source_path())) if split is None or p["split"] == split]


def first_sentences(text: str, count: int = 2) -> str:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z(\[])", text.strip())
    return " ".join(parts[:count])


def as_need(paper: dict) -> NeedRecord:
    return NeedRecord(id=f"n:{paper['id']}", title=paper["title"], description=first_sentences(paper["abstract"]))


def _achievement(paper: dict) -> AchievementRecord:
    return AchievementRecord(id=paper["id"], title=paper["title"], abstract=paper["abstract"], year=paper["year"])


def _routing(split: str, seed: int, max_experts: int | None, max_needs: int | None, min_papers: int,
             min_achievements: int, source: Path | None) -> tuple[Task, dict[str, list[dict]], dict[str, dict]]:
    papers = load_papers(split, source)
    by_author: dict[str, list[dict]] = defaultdict(list)
    names: dict[str, str] = {}
    for paper in papers:
        for slug in paper["authors"]:
            by_author[slug].append(paper)
            names.setdefault(slug, paper["author_names"][slug])
    rng = random.Random(seed)
    eligible = sorted(a for a, ps in by_author.items() if len(ps) >= min_papers)
    chosen = sorted(rng.sample(eligible, max_experts)) if max_experts and len(eligible) > max_experts else eligible
    held = {rng.choice(by_author[a])["id"] for a in chosen}
    kept = {a: [p for p in by_author[a] if p["id"] not in held] for a in chosen}
    kept = {a: ps for a, ps in kept.items() if len(ps) >= min_achievements}
    by_id = {p["id"]: p for p in papers}
    relevant = {}
    for paper_id in sorted(held):
        authors = {a for a in by_id[paper_id]["authors"] if a in kept}
        if authors:
            relevant[paper_id] = authors
    need_ids = sorted(relevant)
    if max_needs and len(need_ids) > max_needs:
        need_ids = sorted(rng.sample(need_ids, max_needs))
    experts = [ExpertRecord(id=a, name=names[a], achievements=tuple(_achievement(p) for p in ps)) for a, ps in sorted(kept.items())]
    needs = [as_need(by_id[i]) for i in need_ids]
    truth = {f"n:{i}": relevant[i] for i in need_ids}
    return (experts, needs, truth), kept, {f"n:{i}": by_id[i] for i in need_ids}


def expert_routing_task(seed: int = 0, split: str = "dev", *, max_experts: int | None = 600, max_needs: int | None = 500,
                        min_papers: int = 3, min_achievements: int = 2, source: Path | None = None) -> Task:
    """(experts, needs, relevant): experts are authors, needs their held-out papers, relevant
    need id -> set of expert ids (the held-out paper's authors that are experts)."""
    return _routing(split, seed, max_experts, max_needs, min_papers, min_achievements, source)[0]


def title_to_abstract_task(seed: int = 0, split: str = "dev", *, size: int = 1000, source: Path | None = None) -> Task:
    """Known item: ``size`` papers sampled by ``seed``; one expert per paper holding only its
    abstract (id ``a:<paper id>``), its title the need (``t:<paper id>``)."""
    papers = load_papers(split, source)
    if len(papers) > size:
        papers = sorted(random.Random(seed).sample(papers, size), key=lambda p: p["id"])
    experts = [ExpertRecord(id=f"a:{p['id']}", achievements=(AchievementRecord(id=f"a:{p['id']}", title="", abstract=p["abstract"]),))
               for p in papers]
    needs = [NeedRecord(id=f"t:{p['id']}", title=p["title"]) for p in papers]
    return experts, needs, {f"t:{p['id']}": {f"a:{p['id']}"} for p in papers}


def cross_need_task(seed: int = 0, split: str = "dev", *, max_experts: int | None = 600, max_needs: int | None = 500,
                    per_side: int = 10, min_per_side: int = 5,
                    source: Path | None = None) -> tuple[list[ExpertRecord], list[NeedRecord], dict[str, dict[str, int]]]:
    """(experts, needs, labels): labels expert id -> {need id: 1 own field, 0 other field};
    ``experts`` are all routing experts (the engine's pool), only the labelled ones are scored."""
    (experts, needs, _), kept, need_papers = _routing(split, seed, max_experts, max_needs, 3, 2, source)
    rng = random.Random(seed + 1)
    by_field: dict[str, list[str]] = defaultdict(list)
    for need in needs:
        by_field[need_papers[need.id]["field"]].append(need.id)
    labels: dict[str, dict[str, int]] = {}
    for expert in experts:
        field, count = Counter(p["field"] for p in kept[expert.id]).most_common(1)[0]
        if 2 * count <= len(kept[expert.id]):
            continue
        own = by_field[field]
        other = sorted(n for f, ids in by_field.items() if f != field for n in ids)
        k = min(len(own), len(other), per_side)
        if k < min_per_side:
            continue
        labels[expert.id] = {n: 1 for n in rng.sample(own, k)} | {n: 0 for n in rng.sample(other, k)}
    return experts, needs, labels


def per_expert_auc(scores: dict[str, dict[str, float]], labels: dict[str, dict[str, int]]) -> float:
    """Mean over experts of the AUC of scores[expert][need] (missing: 0) against labels."""
    values = []
    for expert, row in labels.items():
        pos = [scores.get(expert, {}).get(n, 0.0) for n, y in row.items() if y]
        neg = [scores.get(expert, {}).get(n, 0.0) for n, y in row.items() if not y]
        wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
        values.append(wins / (len(pos) * len(neg)))
    return sum(values) / len(values) if values else float("nan")


def stats(split: str = "dev", seed: int = 0) -> dict:
    papers = load_papers(split)
    experts, needs, truth = expert_routing_task(seed, split)
    ta_experts, _, _ = title_to_abstract_task(seed, split)
    _, cn_needs, labels = cross_need_task(seed, split)
    return {
        "source": f"github:{REPOSITORY}@{COMMIT}", "path": str(source_path()), "licence": LICENCE,
        "split": split, "seed": seed, "papers_all_splits": len(load_papers()), "papers": len(papers),
        "papers_by_field": dict(sorted(Counter(p["field"] for p in papers).items())),
        "years": [min(p["year"] for p in papers if p["year"]), max(p["year"] for p in papers if p["year"])],
        "authors_with_3_papers": sum(1 for c in Counter(a for p in papers for a in p["authors"]).values() if c >= 3),
        "routing": {"experts": len(experts), "needs": len(needs),
                    "mean_achievements_per_expert": round(sum(len(e.achievements) for e in experts) / len(experts), 2),
                    "mean_relevant_per_need": round(sum(len(v) for v in truth.values()) / len(truth), 2)},
        "title_to_abstract": {"items": len(ta_experts)},
        "cross_need": {"experts_labelled": len(labels), "needs": len(cn_needs),
                       "mean_labels_per_expert": round(sum(len(v) for v in labels.values()) / max(len(labels), 1), 2)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    json.dump(stats(args.split, args.seed), sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
