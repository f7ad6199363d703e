"""Loaders for benchmark data: the CSL dev split (read from ../shared, never copied) and the
demo dataset's hand-made judgements."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from matcher import AchievementRecord, ExpertAttributes, ExpertRecord, NeedRecord
from matcher.paths import DEMO_DIR

REPO = Path(__file__).resolve().parent.parent
CSL_DIR = REPO.parent / "shared" / "datasets" / "csl-dev"


@dataclass(frozen=True)
class Paper:
    line: int
    title: str
    abstract: str
    keywords: tuple[str, ...]
    discipline: str


def load_csl(directory: Path = CSL_DIR) -> list[Paper]:
    """1,000 CSL papers; the title is what follows the abstract in keywords.tsv."""
    if not directory.exists():
        raise FileNotFoundError(f"CSL dataset not found at {directory} (expected ../shared/datasets/csl-dev)")
    keywords_rows = (directory / "keywords.tsv").read_text(encoding="utf-8").splitlines()
    discipline_rows = (directory / "disciplines.tsv").read_text(encoding="utf-8").splitlines()
    papers = []
    for number, (kw_row, disc_row) in enumerate(zip(keywords_rows, discipline_rows, strict=True), start=1):
        _, abstract, discipline = disc_row.split("\t")
        _, abstract_title, keywords = kw_row.split("\t")
        if not abstract_title.startswith(abstract):
            raise ValueError(f"{directory}/keywords.tsv line {number}: text does not start with the abstract")
        title = abstract_title[len(abstract):].strip()
        papers.append(Paper(number, title, abstract, tuple(k for k in keywords.split("_") if k), discipline))
    return papers


def csl_routing(papers: list[Paper]) -> tuple[list[ExpertRecord], list[NeedRecord], dict[str, str]]:
    """Per discipline, every other paper forms one expert's achievements; the titles of the
    others are needs whose right answer is that expert."""
    by_discipline: dict[str, list[Paper]] = defaultdict(list)
    for paper in papers:
        by_discipline[paper.discipline].append(paper)
    experts, needs, truth = [], [], {}
    for index, (_discipline, group) in enumerate(sorted(by_discipline.items())):
        if len(group) < 2:
            continue
        expert_id = f"d{index:02d}"
        own, queries = group[0::2], group[1::2]
        keywords = tuple(dict.fromkeys(k for p in own for k in p.keywords))
        experts.append(ExpertRecord(
            id=expert_id, keywords=keywords,
            achievements=tuple(AchievementRecord(id=f"p{p.line}", title=p.title, abstract=p.abstract) for p in own)))
        for paper in queries:
            need_id = f"n{paper.line}"
            needs.append(NeedRecord(id=need_id, title=paper.title))
            truth[need_id] = expert_id
    return experts, needs, truth


def csl_title_to_abstract(papers: list[Paper]) -> tuple[list[ExpertRecord], list[NeedRecord], dict[str, str]]:
    """Each abstract is one document (an 'expert' with one item); each title a query."""
    experts = [ExpertRecord(id=f"a{p.line}", achievements=(AchievementRecord(id=f"a{p.line}", title="", abstract=p.abstract),))
               for p in papers]
    needs = [NeedRecord(id=f"t{p.line}", title=p.title) for p in papers]
    return experts, needs, {f"t{p.line}": f"a{p.line}" for p in papers}


@dataclass
class DemoBenchmark:
    experts: list[ExpertRecord]
    attributes: dict[str, ExpertAttributes]
    needs: list[NeedRecord]
    judgements: dict[str, dict[str, int]]  # need -> expert -> relevance
    hard_cases: dict[str, str]


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_demo(directory: Path = DEMO_DIR) -> DemoBenchmark:
    from web.domain.lifecycle import ENGAGED  # which states occupy capacity: the lifecycle table's

    experts, attrs, needs, judgements, hard = [], {}, [], defaultdict(dict), {}
    engaged: dict[str, int] = defaultdict(int)
    engaged_states = {status.value for status in ENGAGED}
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        for match in _jsonl(folder / "matches.jsonl"):
            if match["status"] in engaged_states:
                engaged[match["expert"]] += 1
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        for e in _jsonl(folder / "experts.jsonl"):
            experts.append(ExpertRecord(
                id=e["id"], name=e["name"], title=e.get("title", ""), summary=e.get("summary", ""),
                research_areas=tuple(e.get("research_areas", [])), keywords=tuple(e.get("keywords", [])),
                achievements=tuple(AchievementRecord(id=f"{e['id']}#{i}", title=a["title"], abstract=a.get("abstract", ""),
                                                     kind=a.get("kind", "paper"), year=a.get("year"))
                                   for i, a in enumerate(e["achievements"]))))
            attrs[e["id"]] = ExpertAttributes(
                organization=e["organization"], region=e.get("region", ""), discipline_codes=tuple(e.get("disciplines", [])),
                cooperation_modes=tuple(e.get("cooperation_modes", [])), capacity=e.get("capacity"),
                engaged=engaged.get(e["id"], 0), declared_conflicts=frozenset(e.get("conflict_organizations") or []))
        for n in _jsonl(folder / "needs.jsonl"):
            needs.append(NeedRecord(id=n["id"], title=n["title"], description=n.get("description", ""),
                                    industry_codes=tuple(n.get("industry", [])), region=n.get("region", ""),
                                    organization=n["organization"], cooperation_modes=tuple(n.get("cooperation_modes", []))))
            if n.get("hard_case"):
                hard[n["id"]] = n["hard_case"]
        for j in _jsonl(folder / "judgements.jsonl"):
            judgements[j["need"]][j["expert"]] = int(j["relevance"])
    return DemoBenchmark(experts, attrs, [n for n in needs if n.id in judgements], dict(judgements), hard)
