from matcher.text import TextProcessor, detect_language, normalise


def test_normalise_folds_full_width_traditional_and_case():
    assert normalise("ＡＢＣ１２３，（ＰＥＴ／ＣＴ）") == "abc123,(pet/ct)"
    assert normalise("鈦合金鍛造工藝") == "钛合金锻造工艺"


def test_language_is_detected_per_field():
    assert detect_language("罗非鱼链球菌病的防控") == "zh"
    assert detect_language("Streptococcus control in tilapia ponds") == "en"
    assert detect_language("基于北斗RTK的农机自动导航") == "zh"
    assert detect_language("12345 ---") == "none"


def test_mixed_chinese_and_english_are_both_tokenised():
    tokens = TextProcessor().tokens("基于北斗RTK的农机自动导航 with PET/CT imaging")
    assert "北斗" in tokens and "rtk" in tokens and "pet" in tokens and "ct" in tokens
    assert "imaging" in tokens
    assert "with" not in tokens  # English stopword
    assert "的" not in tokens  # Chinese stopword


def test_user_dictionary_keeps_domain_terms_whole_and_search_mode_adds_subwords():
    plain = TextProcessor(cjk_bigrams=False).tokens("无乳链球菌疫苗")
    learned = TextProcessor(user_terms=["无乳链球菌"], cjk_bigrams=False).tokens("无乳链球菌疫苗")
    assert "无乳链球菌" not in plain
    assert "无乳链球菌" in learned and "链球菌" in learned


def test_character_bigrams_are_marked_and_optional():
    with_bigrams = TextProcessor(cjk_bigrams=True).tokens("钛合金")
    without = TextProcessor(cjk_bigrams=False).tokens("钛合金")
    assert "#钛合" in with_bigrams and "#合金" in with_bigrams
    assert not any(t.startswith("#") for t in without)


def test_english_plurals_are_folded():
    tokens = TextProcessor().tokens("shock absorbers and springs, batteries")
    assert "absorber" in tokens and "spring" in tokens and "battery" in tokens
