"""Industry (GB/T 4754-2017), discipline (GB/T 13745-2009) and region taxonomies.

Needs carry industry division codes, experts discipline codes; the crosswalk
``industry_disciplines.json`` says which disciplines serve which industry.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from .paths import TAXONOMY_DIR


@dataclass(frozen=True)
class Term:
    code: str
    zh: str
    en: str
    parent: str | None = None

    def name(self, locale: str = "zh") -> str:
        return self.en if locale.startswith("en") else self.zh


@dataclass(frozen=True, eq=False)
class Taxonomy:
    industries: dict[str, Term]  # sections (letters) and divisions (two digits)
    disciplines: dict[str, Term]  # first level (3 digits) and second level (5 digits)
    provinces: dict[str, Term]  # keyed by full Chinese name
    province_cities: dict[str, tuple[Term, ...]]
    crosswalk: dict[str, dict[str, float]]  # industry division -> {discipline: weight}

    def industry_divisions(self) -> list[Term]:
        return [t for t in self.industries.values() if t.parent is not None]

    def first_level_disciplines(self) -> list[Term]:
        return [t for t in self.disciplines.values() if t.parent is None]

    def discipline_root(self, code: str) -> str:
        return code[:3]

    def province_of(self, region: str) -> str | None:
        """The province a region string starts with (``广东省茂名市`` -> ``广东省``)."""
        return self.region_parts(region)[0]

    def city_of(self, region: str) -> str | None:
        return self.region_parts(region)[1]

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - the taxonomy lives for the whole process
    def region_parts(self, region: str) -> tuple[str | None, str | None]:
        """(province, city) of a free-text region; memoised because ranking asks for the same
        few hundred regions thousands of times."""
        province = self._province(region)
        return province, (self._city(region, province) if province else None)

    def _province(self, region: str) -> str | None:
        region = (region or "").strip()
        for full, term in self.provinces.items():
            if region.startswith(full) or (term.en and region.lower().startswith(term.en.lower())):
                return full
        for full in self.provinces:
            short = full.rstrip("省市").replace("壮族自治区", "").replace("回族自治区", "")
            short = short.replace("维吾尔自治区", "").replace("自治区", "").replace("特别行政区", "")
            if short and region.startswith(short):
                return full
        return None

    def _city(self, region: str, province: str) -> str | None:
        rest = region.strip()[len(province) :] if region.strip().startswith(province) else region.strip()
        for city in self.province_cities.get(province, ()):
            if city.zh and (rest.startswith(city.zh) or rest.startswith(city.zh.rstrip("市"))):
                return city.zh
        return None

    def discipline_fit(self, industry_codes, discipline_codes) -> float:
        """Best crosswalk weight between any of the need's industries and the expert's disciplines."""
        return self._discipline_fit(tuple(industry_codes), tuple(discipline_codes))

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - the taxonomy lives for the whole process
    def _discipline_fit(self, industry_codes: tuple[str, ...], discipline_codes: tuple[str, ...]) -> float:
        best = 0.0
        roots = {self.discipline_root(code) for code in discipline_codes}
        for industry in industry_codes:
            weights = self.crosswalk.get(industry, {})
            for root in roots:
                best = max(best, weights.get(root, 0.0))
        return best


def _load_json(name: str) -> dict:
    with open(TAXONOMY_DIR / name, encoding="utf-8") as handle:
        return json.load(handle)


@functools.lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    industries: dict[str, Term] = {}
    for section in _load_json("industries.json")["sections"]:
        industries[section["code"]] = Term(section["code"], section["zh"], section["en"])
        for division in section.get("divisions", []):
            industries[division["code"]] = Term(division["code"], division["zh"], division["en"], section["code"])
    disciplines: dict[str, Term] = {}
    for first in _load_json("disciplines.json")["disciplines"]:
        disciplines[first["code"]] = Term(first["code"], first["zh"], first["en"])
        for child in first.get("children", []):
            disciplines[child["code"]] = Term(child["code"], child["zh"], child["en"], first["code"])
    provinces: dict[str, Term] = {}
    province_cities: dict[str, tuple[Term, ...]] = {}
    for province in _load_json("regions.json")["provinces"]:
        provinces[province["zh"]] = Term(province["code"], province["zh"], province["en"])
        province_cities[province["zh"]] = tuple(
            Term("", city["zh"], city.get("en", ""), province["code"]) for city in province.get("cities", [])
        )
    crosswalk = {
        code: {disc: float(weight) for disc, weight in weights.items()}
        for code, weights in _load_json("industry_disciplines.json")["map"].items()
    }
    return Taxonomy(industries, disciplines, provinces, province_cities, crosswalk)
