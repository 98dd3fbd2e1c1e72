"""Chart images (matplotlib, Agg backend) with Chinese text.

Chinese needs a CJK font. The one named by the setting ``HOUQIN_CHART_FONT`` (a font file
path; ``CHART_FONT`` in earlier releases) wins; otherwise the first installed font of a known
CJK family is used. Without one there is no chart: callers post text only, and a warning is
logged once.

matplotlib is imported on the first chart, not with the bot: charts are drawn a few times a
month and the library costs about 40 MB of memory and a second of start-up.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "STHeiti",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
SAMPLE = "考评得分优秀合格"


@dataclass(frozen=True)
class Bar:
    """One bar: a label (a name), its value, a colour, and what is written after the value
    (a grade, a mark); a hatch pattern and an outline colour single a bar out."""

    label: str
    value: float
    color: str = "#4C78A8"
    note: str = ""
    hatch: str = ""
    edge: str = ""


@dataclass(frozen=True)
class LegendEntry:
    """What a colour, a hatch or an outline means, drawn as a small bar under the chart."""

    label: str
    color: str
    hatch: str = ""
    edge: str = ""


@cache
def _font_manager() -> ModuleType:
    """matplotlib's font manager, imported (with the Agg backend selected) on first use."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    return font_manager


def _covers(path: str, text: str) -> bool:
    """Whether the font file has a glyph for every character of ``text``."""
    try:
        font = _font_manager().get_font(path)
    except (OSError, RuntimeError):
        return False
    return all(font.get_char_index(ord(ch)) for ch in text if not ch.isspace())


@cache
def _find_font(configured: str | None) -> FontProperties | None:
    font_manager = _font_manager()
    if configured:
        path = Path(configured).expanduser()
        if path.is_file() and _covers(str(path), SAMPLE):
            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path))
        log.warning("HOUQIN_CHART_FONT %s is not a readable font with Chinese glyphs", configured)
    installed = {entry.name: entry.fname for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        path_found = installed.get(family)
        if path_found and _covers(path_found, SAMPLE):
            return font_manager.FontProperties(fname=path_found)
    log.warning(
        "no Chinese font found for charts (install e.g. fonts-wqy-microhei or Noto Sans CJK, "
        "or set HOUQIN_CHART_FONT to a font file); appraisal results are posted as text only"
    )
    return None


def chart_font(configured: str | None = None) -> FontProperties | None:
    """The CJK font to draw with: ``configured``, else the HOUQIN_CHART_FONT (or older CHART_FONT)
    environment variable, else a known installed family."""
    named = os.environ.get("HOUQIN_CHART_FONT") or os.environ.get("CHART_FONT")
    return _find_font(configured or named or None)


def figure_png(figure: Figure | None) -> bytes | None:
    """A drawn figure (see bar_chart_figure) rendered as PNG bytes; None without one."""
    if figure is None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def bar_chart_figure(
    title: str,
    bars: Sequence[Bar],
    *,
    legend: Sequence[LegendEntry] = (),
    xlabel: str = "",
    xmax: float = 100.0,
    font_path: str | None = None,
    value_format: str = "{:.1f}",
) -> Figure | None:
    """The chart as a matplotlib figure, drawn but not rendered; None without a CJK font.

    Each bar's value is written after it with its note; the legend says what the colours,
    hatches and outlines mean."""
    font = chart_font(font_path)
    if font is None or not bars:
        return None
    texts = [b.label for b in bars] + [b.note for b in bars] + [e.label for e in legend]
    missing = [t for t in texts if t and not _covers(str(font.get_file()), t)]
    if missing:
        log.warning("the chart font lacks glyphs for: %s", ", ".join(missing))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    legend_rows = (len(legend) + 3) // 4
    height = max(2.5, 0.45 * len(bars) + 1.4) + 0.35 * legend_rows
    figure = Figure(figsize=(8.5, height), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(bars)))[::-1]
    for position, bar in zip(positions, bars, strict=True):
        axes.barh(
            position,
            bar.value,
            color=bar.color,
            height=0.6,
            hatch=bar.hatch or None,
            edgecolor=bar.edge or bar.color,
            linewidth=2 if bar.edge else 0,
        )
        axes.text(
            min(bar.value, xmax) + xmax * 0.01,
            position,
            f"{value_format.format(bar.value)}  {bar.note}".rstrip(),
            va="center",
            fontsize=9,
            fontproperties=font,
        )
    axes.set_yticks(positions, [b.label for b in bars], fontproperties=font)
    # Room on the right for the notes; the scale itself stops at xmax.
    axes.set_xlim(0, xmax * 1.4)
    axes.set_xticks([xmax * step / 5 for step in range(6)])
    axes.set_title(title, fontproperties=font, fontsize=13)
    if xlabel:
        axes.set_xlabel(xlabel, fontproperties=font)
    axes.spines[["top", "right"]].set_visible(False)
    axes.spines["bottom"].set_bounds(0, xmax)
    if legend:
        handles = [
            Patch(
                facecolor=e.color,
                hatch=e.hatch or None,
                edgecolor=e.edge or e.color,
                linewidth=2 if e.edge else 0,
                label=e.label,
            )
            for e in legend
        ]
        figure.legend(
            handles=handles,
            loc="lower center",
            ncol=min(4, len(handles)),
            prop=font,
            frameon=False,
            fontsize=9,
        )
    figure.tight_layout(rect=(0, 0.35 * legend_rows / height, 1, 1))
    return figure
