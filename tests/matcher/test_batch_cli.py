"""The `python -m matcher score` contract, including every bad-input case."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPERTS = [
    {"id": "e1", "name": "Spring lab", "keywords": ["悬架弹簧"], "organization": "org-a",
     "achievements": [{"title": "悬架弹簧腐蚀疲劳断裂机理", "abstract": "喷丸强化", "year": 2022}]},
    {"id": "e2", "name": "Fish lab", "summary": "罗非鱼病害防控", "organization": "org-b",
     "achievements": [{"title": "罗非鱼无乳链球菌病疫苗"}]},
    {"id": 3, "name": "Lychee lab", "achievements": [{"title": "Lychee fruit set and flower induction", "year": 2021}]},
]
NEEDS = [
    {"id": "n1", "title": "弹簧跑两万公里就断", "organization": "org-a"},
    {"id": "n2", "title": "Tilapia dying in summer", "description": "fish swim in circles"},
]


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records), encoding="utf-8")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "matcher", "score", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}, timeout=300)


@pytest.fixture
def files(tmp_path):
    return write_jsonl(tmp_path / "experts.jsonl", EXPERTS), write_jsonl(tmp_path / "needs.jsonl", NEEDS), tmp_path / "scores.csv"


def read_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.slow
def test_all_pairs_writes_every_pair_with_the_real_model(files):
    experts, needs, out = files
    result = run_cli("--experts", str(experts), "--needs", str(needs), "--out", str(out), "--all-pairs", "--quiet")
    assert result.returncode == 0, result.stderr
    rows = read_rows(out)
    assert len(rows) == len(EXPERTS) * len(NEEDS)
    assert {(r[0], r[1]) for r in rows} == {(n["id"], str(e["id"])) for n in NEEDS for e in EXPERTS}
    assert all(len(r) == 3 and float(r[2]) >= 0 for r in rows)
    best = {}
    for need_id, expert_id, score in rows:
        if float(score) > best.get(need_id, ("", -1))[1]:
            best[need_id] = (expert_id, float(score))
    assert best["n2"][0] == "e2"


def test_top_n_ranks_best_first_and_applies_conflicts(files):
    experts, needs, out = files
    result = run_cli("--experts", str(experts), "--needs", str(needs), "--out", str(out), "--top", "2", "--lexical-only", "--quiet")
    assert result.returncode == 0, result.stderr
    rows = read_rows(out)
    n1 = [r for r in rows if r[0] == "n1"]
    assert len(n1) == 2 and "e1" not in [r[1] for r in n1]  # e1 works at the need's organisation
    scores = [float(r[2]) for r in n1]
    assert scores == sorted(scores, reverse=True)
    assert not out.read_text().startswith("need_id")  # no header


@pytest.mark.parametrize(
    ("which", "lines", "expected"),
    [
        ("experts", ['{"id": "e1", "achievements": []}', "{not json"], "line 2: invalid JSON"),
        ("experts", ['{"name": "no id", "achievements": []}'], "line 1: missing required field 'id'"),
        ("experts", ['{"id": "e1"}', '{"id": "e1"}'], "line 2: duplicate id 'e1'"),
        ("experts", [], "file is empty"),
        ("experts", ['{"id": "e1", "achievements": [{"abstract": "no title"}]}'], "achievements[1]: missing required field 'title'"),
        ("experts", ['["a", "list"]'], "line 1: expected a JSON object"),
        ("needs", ['{"id": "n1"}'], "line 1: missing required field 'title'"),
        ("needs", ['{"id": "n1", "title": "a"}', '', '{"id": "n1", "title": "b"}'], "line 3: duplicate id 'n1'"),
        ("needs", ['{"id": "n1", "title": 5}'], "field 'title' must be a string"),
    ],
)
def test_bad_input_names_file_line_and_problem_and_writes_nothing(tmp_path, which, lines, expected):
    experts = write_jsonl(tmp_path / "experts.jsonl", EXPERTS)
    needs = write_jsonl(tmp_path / "needs.jsonl", NEEDS)
    bad = tmp_path / f"{which}.jsonl"
    bad.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "scores.csv"
    out.write_text("previous,content,1\n")
    result = run_cli("--experts", str(experts), "--needs", str(needs), "--out", str(out), "--lexical-only", "--quiet")
    assert result.returncode == 1
    assert str(bad) in result.stderr and expected in result.stderr, result.stderr
    assert out.read_text() == "previous,content,1\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".scores")] == []


def test_missing_file_and_bad_top_are_reported(tmp_path):
    needs = write_jsonl(tmp_path / "needs.jsonl", NEEDS)
    result = run_cli("--experts", str(tmp_path / "nope.jsonl"), "--needs", str(needs), "--out", str(tmp_path / "o.csv"), "--lexical-only")
    assert result.returncode == 1 and "nope.jsonl: file not found" in result.stderr
    result = run_cli("--experts", str(needs), "--needs", str(needs), "--out", str(tmp_path / "o.csv"), "--top", "0")
    assert result.returncode == 2 and "--top" in result.stderr
    assert not (tmp_path / "o.csv").exists()
