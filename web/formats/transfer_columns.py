"""The columns of import and export files, with their Chinese and English names.

Exports use exactly the names the importer reads, so an exported file of experts or needs
can be imported into another installation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    field: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    required: bool = False

    @property
    def display(self) -> str:
        return f"{self.zh}/{self.en}"


EXPERT_COLUMNS = (
    Column("name", "姓名", "name", ("专家姓名",), required=True),
    Column("title", "职称", "title", ("职务",)),
    Column("organization", "单位", "organization", ("organisation", "工作单位", "所在单位", "institution")),
    Column("region", "地区", "region", ("所在地区", "所在地")),
    Column("discipline_codes", "学科代码", "disciplines", ("discipline_codes", "学科")),
    Column("research_areas", "研究方向", "research_areas"),
    Column("keywords", "关键词", "keywords"),
    Column("summary", "简介", "summary", ("个人简介", "专家简介")),
    Column("cooperation_modes", "合作方式", "cooperation_modes"),
    Column("capacity", "可承接数", "capacity"),
    Column("available", "可对接", "available"),
    Column("phone", "电话", "phone", ("手机", "联系电话")),
    Column("email", "邮箱", "email", ("电子邮箱", "e-mail")),
    Column("wechat", "微信", "wechat"),
    Column("achievements", "成果", "achievements", ("科研成果",)),
)
NEED_COLUMNS = (
    Column("title", "标题", "title", ("需求名称", "需求标题"), required=True),
    Column("description", "描述", "description", ("需求描述",)),
    Column("industry_codes", "行业代码", "industry_codes", ("industry", "行业")),
    Column("region", "地区", "region", ("所在地区",)),
    Column("cooperation_modes", "合作方式", "cooperation_modes"),
    Column("budget_min", "预算下限", "budget_min"),
    Column("budget_max", "预算上限", "budget_max"),
    Column("deadline", "截止日期", "deadline"),
    Column("anonymous", "匿名", "anonymous"),
    Column("organization", "企业", "organization", ("enterprise", "企业名称", "organisation"), required=True),
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
