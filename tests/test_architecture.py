"""The shape of the code: layers point one way, handler modules stay small, no private
python-telegram-bot imports. (`make lint` runs the same import contracts.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("bot", "cockpit", "handlers", "scheduler", "actions", "notices", "storage", "school")
MAX_HANDLER_LINES = 600


def test_layers_point_one_way() -> None:
    """import-linter's contracts (pyproject.toml): no handlers from the scheduler or back, no
    Telegram in storage or the school, nothing of the product imports the developer tools."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_no_handler_module_is_over_600_lines() -> None:
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / "handlers").glob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_HANDLER_LINES} == {}


def test_no_private_python_telegram_bot_imports() -> None:
    private = re.compile(r"^\s*(from|import)\s+telegram(\.ext)?\._", re.M)
    offenders = [
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if private.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_every_button_is_built_from_typed_callback_data() -> None:
    """One codec builds every button's data (notices.callbacks): no hand-made strings."""
    raw = re.compile(r"(?<![\w.])callback_data=(?!data\.encode\(\)|False)")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if raw.search(line)
    ]
    assert offenders == []


def test_no_import_circle_in_the_product() -> None:
    """Modules of the product never import each other in a circle (the developer tools may)."""
    import grimp

    graph = grimp.build_graph(*PRODUCT)
    circles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                circles.add(tuple(sorted({module, *back})))
    assert sorted(circles) == []
