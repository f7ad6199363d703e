from matcher.glossary import Glossary, default_glossary


def test_english_phrase_brings_its_chinese_equivalent():
    glossary = Glossary()
    glossary.add_concept(["减振器"], ["shock absorber", "damper"])
    targets = {(e.source, e.target, e.kind) for e in glossary.expand("Noisy shock absorbers on SUVs")}
    assert ("shock absorber", "减振器", "translation") in targets


def test_chinese_phrase_brings_english_and_colloquial_brings_technical():
    glossary = Glossary()
    glossary.add_concept(["钛合金"], ["titanium alloy"])
    glossary.add_synonym("断了", ["断裂", "失效"])
    found = {(e.source, e.target, e.kind) for e in glossary.expand("钛合金弹簧用了半年就断了")}
    assert ("钛合金", "titanium alloy", "translation") in found
    assert ("断了", "断裂", "synonym") in found and ("断了", "失效", "synonym") in found


def test_shipped_glossary_covers_the_demo_sectors():
    glossary = default_glossary()
    for english, chinese in [("tilapia", "罗非鱼"), ("lychee", "荔枝"), ("titanium alloy", "钛合金")]:
        assert chinese in {e.target for e in glossary.expand(english)}, english
