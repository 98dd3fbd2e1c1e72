"""The monthly energy 通报's chart: per kind (water, electricity, gas) a panel with each
building's use this month next to last month (matplotlib, drawn with notices.charts' CJK font)."""

from __future__ import annotations

from collections.abc import Sequence

from notices.charts import chart_font, figure_png
from notices.meters import KIND_LABELS, Line
from school.i18n import Translate
from school.profile_energy import MeterKind

THIS_MONTH, LAST_MONTH = "#4C78A8", "#BAB0AC"


def report_png(
    title: str, lines: Sequence[Line], _: Translate, font_path: str | None = None
) -> bytes | None:
    """The chart as PNG; None without a CJK font or without any use to show."""
    font = chart_font(font_path)
    kinds = [k for k in MeterKind if any(line.kind == k for line in lines)]
    if font is None or not kinds:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = max(len([line for line in lines if line.kind == k]) for k in kinds)
    figure = Figure(figsize=(4.2 * len(kinds), max(3.0, 0.5 * rows + 2)), dpi=100)
    FigureCanvasAgg(figure)
    for index, kind in enumerate(kinds, start=1):
        axes = figure.add_subplot(1, len(kinds), index)
        found = [line for line in lines if line.kind == kind]
        positions = list(range(len(found)))[::-1]
        now = [line.comparison.amount for line in found]
        before = [line.comparison.previous or 0.0 for line in found]
        axes.barh(
            [p + 0.2 for p in positions], now, height=0.4, color=THIS_MONTH, label=_("This month")
        )
        axes.barh(
            [p - 0.2 for p in positions],
            before,
            height=0.4,
            color=LAST_MONTH,
            label=_("Last month"),
        )
        axes.set_yticks(positions, [line.place for line in found], fontproperties=font)
        unit = found[0].unit.replace("³", "$^3$")  # the CJK font may lack ³
        axes.set_title(f"{_(KIND_LABELS[kind])} ({unit})", fontproperties=font)
        axes.spines[["top", "right"]].set_visible(False)
        if index == 1:
            axes.legend(prop=font, frameon=False, fontsize=8)
    figure.suptitle(title, fontproperties=font, fontsize=13)
    figure.tight_layout()
    return figure_png(figure)
