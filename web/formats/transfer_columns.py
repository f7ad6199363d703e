"""The columns of import and export files, with their Chinese and English names.

Exports use exactly the names the importer reads, so an exported file of experts or needs
can be imported into another installation. Each column holds one field of a field spec
(:mod:`web.domain.fields`): its label, whether it is required and its limits come from there
(the importer checks every row with the same cleaners as the forms and the API).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import Problem
from ..domain.fields import ACHIEVEMENT_LINES, ENTERPRISE, NEED, ORGANIZATION, PROFILE, Field


@dataclass(frozen=True)
class Column:
    spec: Field | str  # the field spec of an imported column; a bare name for export-only columns
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    default: str | None = None  # the value of an empty cell (or a missing column)

    @property
    def field(self) -> str:
        return self.spec.name if isinstance(self.spec, Field) else self.spec

    @property
    def required(self) -> bool:
        """The file must have this column: its field is required and has no default."""
        return isinstance(self.spec, Field) and self.spec.required and self.default is None

    @property
    def label(self) -> Problem | str:
        """The English msgid a page shows for this column (the preview's table header)."""
        return self.spec.label if isinstance(self.spec, Field) else self.en

    @property
    def display(self) -> str:
        return f"{self.zh}/{self.en}"


EXPERT_COLUMNS = (
    Column(PROFILE["name"], "姓名", "name", ("专家姓名",)),
    Column(PROFILE["title"], "职称", "title", ("职务",)),
    Column(ORGANIZATION, "单位", "organization", ("organisation", "工作单位", "所在单位", "institution")),
    Column(PROFILE["region"], "地区", "region", ("所在地区", "所在地")),
    Column(PROFILE["discipline_codes"], "学科代码", "disciplines", ("discipline_codes", "学科")),
    Column(PROFILE["research_areas"], "研究方向", "research_areas"),
    Column(PROFILE["keywords"], "关键词", "keywords"),
    Column(PROFILE["summary"], "简介", "summary", ("个人简介", "专家简介")),
    Column(PROFILE["cooperation_modes"], "合作方式", "cooperation_modes"),
    Column(PROFILE["capacity"], "可承接数", "capacity", default="3"),
    Column(PROFILE["available"], "可对接", "available"),
    Column(PROFILE["phone"], "电话", "phone", ("手机", "联系电话")),
    Column(PROFILE["email"], "邮箱", "email", ("电子邮箱", "e-mail")),
    Column(PROFILE["wechat"], "微信", "wechat"),
    Column(ACHIEVEMENT_LINES, "成果", "achievements", ("科研成果",)),
)
NEED_COLUMNS = (
    Column(NEED["title"], "标题", "title", ("需求名称", "需求标题")),
    Column(NEED["description"], "描述", "description", ("需求描述",)),
    Column(NEED["industry_codes"], "行业代码", "industry_codes", ("industry", "行业")),
    Column(NEED["region"], "地区", "region", ("所在地区",)),
    Column(NEED["cooperation_modes"], "合作方式", "cooperation_modes"),
    Column(NEED["budget_min"], "预算下限", "budget_min"),
    Column(NEED["budget_max"], "预算上限", "budget_max"),
    Column(NEED["deadline"], "截止日期", "deadline"),
    Column(NEED["anonymous"], "匿名", "anonymous"),
    Column(ENTERPRISE, "企业", "organization", ("enterprise", "企业名称", "organisation")),
)
COLUMNS = {"experts": EXPERT_COLUMNS, "needs": NEED_COLUMNS}

MODE_NAMES_ZH = {
    "consulting": "技术咨询",
    "development": "技术开发",
    "transfer": "技术转让",
    "training": "人才培养",
    "platform": "共建平台",
}
MODE_ALIASES = {name: code for code, name in MODE_NAMES_ZH.items()} | {
    "联合开发": "development", "合作开发": "development", "专家工作站": "platform", "共建实验室": "platform",
}
KIND_NAMES_ZH = {"paper": "论文", "patent": "专利", "project": "项目", "award": "奖励", "standard": "标准"}
KIND_ALIASES = {name: kind for kind, name in KIND_NAMES_ZH.items()} | {"获奖": "award", "奖项": "award"}
