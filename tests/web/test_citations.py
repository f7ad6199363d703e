"""The citation-line reader (web/domain/citations.py) on lines written in each style, as they
appear in a Chinese professor's CV or an English publication list. The lines were written for
these tests in the styles' published patterns; no bibliography was copied."""

from __future__ import annotations

import pytest

from web.domain.citations import NOT_A_CITATION, parse_citation, parse_citations


def fields(line: str) -> tuple:
    row = parse_citation(line)
    assert row.problem is None, (line, row.problem)
    return row.style, row.doc_type, row.kind, row.authors, row.title, row.venue, row.year


@pytest.mark.parametrize(("line", "expected"), [
    pytest.param("[1] 陈志远, 李明, 王强, 等. 荔枝花芽分化期低温调控的生理机制[J]. 园艺学报, 2021, 48(3): 401-410.",
                 ("gbt7714", "journal", "paper", "陈志远, 李明, 王强, 等", "荔枝花芽分化期低温调控的生理机制", "园艺学报", 2021),
                 id="gbt-journal-zh"),
    pytest.param("ZHANG W, LIU Y. Streptococcus agalactiae vaccine for Nile tilapia[J]. Aquaculture, 2019, 512: 734-741.",
                 ("gbt7714", "journal", "paper", "ZHANG W, LIU Y", "Streptococcus agalactiae vaccine for Nile tilapia",
                  "Aquaculture", 2019), id="gbt-journal-en"),
    pytest.param("黄海涛, 周文. 一种罗非鱼链球菌病灭活疫苗的制备方法: 中国, CN112345678A[P]. 2021-03-05.",
                 ("gbt7714", "patent", "patent", "黄海涛, 周文", "一种罗非鱼链球菌病灭活疫苗的制备方法", "中国, CN112345678A", 2021),
                 id="gbt-patent"),
    pytest.param("刘建华. 水产动物病害防治学[M]. 2版. 北京: 中国农业出版社, 2018.",
                 ("gbt7714", "book", "paper", "刘建华", "水产动物病害防治学", "中国农业出版社", 2018), id="gbt-book"),
    pytest.param("王磊, 赵敏. 基于机器视觉的减振器装配缺陷检测[C]//第十二届全国智能制造学术会议论文集. 上海: 同济大学出版社, 2022: 115-120.",
                 ("gbt7714", "conference", "paper", "王磊, 赵敏", "基于机器视觉的减振器装配缺陷检测",
                  "第十二届全国智能制造学术会议论文集", 2022), id="gbt-conference"),
    pytest.param("李娜. 南药广藿香连作障碍的土壤微生物机制[D]. 广州: 华南农业大学, 2020.",
                 ("gbt7714", "thesis", "paper", "李娜", "南药广藿香连作障碍的土壤微生物机制", "华南农业大学", 2020), id="gbt-thesis"),
    pytest.param("［2］ 孙涛． 钛合金表面微弧氧化涂层的耐蚀性研究［J］． 材料保护，2017，50（6）：22-26．",
                 ("gbt7714", "journal", "paper", "孙涛", "钛合金表面微弧氧化涂层的耐蚀性研究", "材料保护", 2017),
                 id="gbt-full-width-punctuation"),
    pytest.param('W. Zhang, Y. Liu, and H. Chen, "Adaptive damping control of magnetorheological shock absorbers," '
                 "IEEE Trans. Ind. Electron., vol. 68, no. 4, pp. 3120–3130, Apr. 2021.",
                 ("ieee", "journal", "paper", "W. Zhang, Y. Liu, and H. Chen",
                  "Adaptive damping control of magnetorheological shock absorbers", "IEEE Trans. Ind. Electron.", 2021),
                 id="ieee-journal"),
    pytest.param('L. Wang and M. Zhao, "Few-shot defect detection on assembly lines," in Proc. IEEE Int. Conf. Robotics '
                 "and Automation (ICRA), Philadelphia, PA, USA, 2022, pp. 881–887.",
                 ("ieee", "conference", "paper", "L. Wang and M. Zhao", "Few-shot defect detection on assembly lines",
                  "Proc. IEEE Int. Conf. Robotics and Automation (ICRA)", 2022), id="ieee-conference"),
    pytest.param('J. Smith, "Spring steel wire with improved fatigue life," U.S. Patent 10 987 654, Jun. 2, 2020.',
                 ("ieee", "patent", "patent", "J. Smith", "Spring steel wire with improved fatigue life",
                  "U.S. Patent 10 987 654", 2020), id="ieee-patent"),
    pytest.param("Chen, Z., & Li, M. (2020). Temperature control of floral induction in litchi. Scientia Horticulturae, "
                 "261(2), 108–117. https://doi.org/10.1000/example.2020.108",
                 ("apa", "journal", "paper", "Chen, Z., & Li, M", "Temperature control of floral induction in litchi",
                  "Scientia Horticulturae", 2020), id="apa-journal"),
    pytest.param("Garcia, R. (2018). Food safety testing in small laboratories (2nd ed.). Academic Press.",
                 ("apa", "book", "paper", "Garcia, R", "Food safety testing in small laboratories (2nd ed.)", "Academic Press", 2018),
                 id="apa-book"),
    pytest.param("Okafor, N., & Brown, T. (2023). Probiotic feed additives for tilapia. In Proceedings of the World "
                 "Aquaculture Conference (pp. 45–52). Aquaculture Society.",
                 ("apa", "conference", "paper", "Okafor, N., & Brown, T", "Probiotic feed additives for tilapia",
                  "Proceedings of the World Aquaculture Conference", 2023), id="apa-conference"),
    pytest.param("Lee, H. (2019). Method for coating titanium implants (U.S. Patent No. 10,123,456). U.S. Patent and "
                 "Trademark Office.",
                 ("apa", "patent", "patent", "Lee, H", "Method for coating titanium implants", "U.S. Patent No. 10,123,456", 2019),
                 id="apa-patent"),
    pytest.param("Wei Zhang, Anna M. Berg, and Tom Kim. 2021. Cross-lingual retrieval of technical needs. In Proceedings "
                 "of the 59th Annual Meeting of the Association for Computational Linguistics, pages 1201–1212, Online. "
                 "Association for Computational Linguistics.",
                 ("acl", "conference", "paper", "Wei Zhang, Anna M. Berg, and Tom Kim", "Cross-lingual retrieval of technical needs",
                  "Proceedings of the 59th Annual Meeting of the Association for Computational Linguistics", 2021),
                 id="acl-conference"),
    pytest.param("Maria Lopez and Jun Sato. 2020. Matching experts to industrial problems. Computational Linguistics, "
                 "46(2):301–330.",
                 ("acl", "journal", "paper", "Maria Lopez and Jun Sato", "Matching experts to industrial problems",
                  "Computational Linguistics", 2020), id="acl-journal"),
])
def test_each_citation_style_is_read_into_its_fields(line, expected):
    assert fields(line) == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("罗非鱼无乳链球菌病灭活疫苗的研制，水产学报，2021", ("paper", "罗非鱼无乳链球菌病灭活疫苗的研制", "水产学报", 2021)),
    ("一种荔枝保鲜的方法，发明专利 ZL201910000000.1 (2020)", ("patent", "一种荔枝保鲜的方法", "发明专利 ZL201910000000.1", 2020)),
    ("- NY/T 1234-2018 荔枝栽培技术规程", ("standard", "NY/T 1234-2018 荔枝栽培技术规程", "", 2018)),
    ("广东省重点领域研发计划项目：南药种植 2019-2022", ("project", "广东省重点领域研发计划项目：南药种植 2019-2022", "", 2019)),
    ("Damping valve modelling for shock absorbers, SAE paper 2023", ("paper", "Damping valve modelling for shock absorbers", "SAE paper", 2023)),
])
def test_a_line_in_no_style_but_with_a_year_is_read_as_title_with_a_note(line, expected):
    row = parse_citation(line)
    assert row.style == "plain" and row.note is not None and row.problem is None
    assert (row.kind, row.title, row.venue, row.year) == expected


def test_a_line_without_style_or_year_is_kept_with_the_reason():
    rows = parse_citations("陈志远. 荔枝花芽分化研究[J]. 园艺学报, 2021.\n\n   \n看不出是什么的一行\n")
    assert [r.line for r in rows] == [1, 4]  # numbered as pasted; blank lines skipped
    bad = rows[1]
    assert bad.problem == NOT_A_CITATION and not bad.read
    assert bad.text == bad.title == "看不出是什么的一行"  # the text is not lost


def test_unknown_bracket_codes_and_numbering_do_not_fool_the_reader():
    row = parse_citation("3. 某某. 关于[X]的说明. 2020")
    assert row.style == "plain" and row.year == 2020
    assert parse_citation("2.5D 打印钛合金支架的力学性能, 材料工程, 2022").title.startswith("2.5D")
