"""The appraisal chart: what it shows (order, grades, 一票否决, 服务标兵, legend), read from the
figure as drawn before it is rendered, and that its Chinese renders with the CJK font."""

from __future__ import annotations

import logging
import warnings
from datetime import date

import pytest
from matplotlib.patches import Rectangle

from notices import charts
from notices.appraisal import chart_content, chart_title
from school.i18n import translator
from school.profile import SchoolProfile
from storage.appraisal import AppraisalResult, Incident, Period, PersonInfo, score_month
from storage.stats import LogStats

zh = translator("zh_CN")


def month_with_a_veto(profile: SchoolProfile) -> AppraisalResult:
    """甲 scores 100 but caused a safety incident; 乙 (95) is the star; 丙 is 基本合格."""
    people = [PersonInfo(i, name, "electrician", "水电工") for i, name in enumerate("甲乙丙", 1)]
    logs = {i: LogStats(20, 20, 0, 0) for i in (1, 2, 3)}
    leader = {1: 100.0, 2: 90.0, 3: 30.0}
    incidents = {1: [Incident(date(2026, 10, 9), "配电房未上锁")]}
    return score_month(
        people, logs, {}, {}, leader, {}, incidents, profile.appraisal, period="2026-10"
    )


def test_the_chart_shows_grades_the_veto_and_the_star_with_a_legend(
    profile: SchoolProfile,
) -> None:
    result = month_with_a_veto(profile)
    bars, legend = chart_content(result, profile, zh)
    # Ranking order: the vetoed 100 last, not first; every bar says its grade.
    assert [(b.label, round(b.value, 1)) for b in bars] == [
        ("乙", 95.0),
        ("丙", 65.0),
        ("甲", 100.0),
    ]
    assert [b.note for b in bars] == ["优秀（服务标兵）", "基本合格", "不合格（一票否决）"]
    star, middle, vetoed = bars
    assert vetoed.hatch and vetoed.edge and not middle.hatch and not middle.edge
    assert star.edge and not star.hatch and star.edge != vetoed.edge
    assert [e.label for e in legend] == [
        "优秀",
        "合格",
        "基本合格",
        "不合格",
        "一票否决",
        "服务标兵",
    ]
    by_label = {e.label: e for e in legend}
    assert by_label["一票否决"].hatch == vetoed.hatch and by_label["服务标兵"].edge == star.edge
    assert by_label["不合格"].color == vetoed.color and by_label["优秀"].color == star.color

    # The figure as drawn: names top to bottom, the notes beside the bars, the legend.
    figure = charts.bar_chart_figure(
        chart_title(Period.parse("2026-10"), profile, zh), bars, legend=legend
    )
    assert figure is not None
    axes = figure.axes[0]
    ticks = sorted(zip(axes.get_yticks(), axes.get_yticklabels(), strict=True), reverse=True)
    assert [label.get_text() for _y, label in ticks] == ["乙", "丙", "甲"]
    drawn = [t.get_text() for t in axes.texts]
    assert drawn == ["95.0  优秀（服务标兵）", "65.0  基本合格", "100.0  不合格（一票否决）"]
    [figure_legend] = figure.legends
    assert [t.get_text() for t in figure_legend.get_texts()] == [e.label for e in legend]
    hatched = [p for p in axes.patches if isinstance(p, Rectangle) and p.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_width() == vetoed.value


def test_a_month_without_veto_or_star_has_only_the_grades_in_its_legend(
    profile: SchoolProfile,
) -> None:
    people = [PersonInfo(1, "甲", "electrician", "水电工")]
    result = score_month(
        people, {1: LogStats(20, 10, 0, 10)}, {}, {}, {}, {}, {}, profile.appraisal
    )
    bars, legend = chart_content(result, profile, zh)
    assert [b.note for b in bars] == ["不合格"] and not bars[0].hatch and not bars[0].edge
    assert [e.label for e in legend] == [g.name for g in profile.appraisal.grades]


def test_the_chart_renders_its_chinese_with_the_cjk_font(profile: SchoolProfile) -> None:
    result = month_with_a_veto(profile)
    bars, legend = chart_content(result, profile, zh)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.figure_png(
            charts.bar_chart_figure("示范中学 2026年10月 考评得分", bars, legend=legend)
        )
    assert png is not None and png.startswith(b"\x89PNG")
    assert not [w for w in caught if "missing from" in str(w.message)]


def test_the_chart_renders_chinese_with_a_cjk_font() -> None:
    bars = [charts.Bar("李师傅", 96.5), charts.Bar("陈阿姨", 82.0), charts.Bar("周师傅", 40)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = charts.bar_chart_figure("示范中学 2026年10月 考评得分", bars, xlabel="得分")
        png = charts.figure_png(figure)
    assert png is not None and png.startswith(b"\x89PNG")
    assert not [w for w in caught if "missing from" in str(w.message)]
    font = charts.chart_font()
    assert font is not None and charts._covers(str(font.get_file()), "李师傅陈阿姨周考评得分")


def test_a_configured_font_wins_and_no_font_means_no_chart(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    installed = charts.chart_font()
    assert installed is not None
    path = str(installed.get_file())
    monkeypatch.setenv("HOUQIN_CHART_FONT", path)
    configured = charts.chart_font()
    assert configured is not None and str(configured.get_file()) == path
    monkeypatch.setenv("HOUQIN_CHART_FONT", "/nonexistent/font.ttf")
    monkeypatch.setattr(charts, "CJK_FAMILIES", ())
    charts._find_font.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="notices.charts"):
            assert charts.bar_chart_figure("考评", [charts.Bar("李师傅", 90)]) is None
        assert "no Chinese font" in caplog.text
    finally:
        charts._find_font.cache_clear()
