"""The house rules that tools check: import layers, plain mypy, one vocabulary, small files.

Each checker is shown to pass on the tree and to fail on a copy with a planted violation, so a
green run means the rule is really being checked.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO

SOURCES = [REPO / "device" / "hipcam", REPO / "web_ui"]
BIN = Path(sys.executable).parent
DOMAIN = REPO / "device" / "hipcam" / "domain.py"
MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 60
# Landmark indices the gait reads (shoulders, hips, knees): spelled by name outside the domain module.
LANDMARK_LITERALS = {11, 12, 23, 24, 25, 26}


def _copy_tree(tmp: Path) -> Path:
    for name in ("device", "web_ui"):
        shutil.copytree(REPO / name, tmp / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp / "pyproject.toml")
    return tmp


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    if not (BIN / "lint-imports").exists():
        pytest.skip("import-linter is not installed (scripts/setup installs it)")
    env = {"PYTHONPATH": f"{root / 'device'}:{root}", "PATH": "/usr/bin:/bin"}
    return subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=root, env=env, capture_output=True, text=True)


def test_import_layers_hold() -> None:
    proc = _lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.parametrize(
    ("module", "planted"),
    [
        ("device/hipcam/gait/events.py", "import hipcam.pose.tracker"),  # gait and pose are independent
        ("device/hipcam/domain.py", "import hipcam.config"),  # the bottom imports nothing above it
        ("web_ui/views.py", "import hipcam.gait.live"),  # the web never sees the pipeline
        ("device/hipcam/service/state.py", "import web_ui.views"),  # the service never imports the web
    ],
)
def test_import_linter_fails_on_a_planted_forbidden_import(tmp_path: Path, module: str, planted: str) -> None:
    root = _copy_tree(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{planted}  # planted\n")
    proc = _lint_imports(root)
    assert proc.returncode != 0 and "BROKEN" in proc.stdout, proc.stdout[-3000:]


@pytest.mark.slow
def test_plain_mypy_fails_on_a_planted_type_error_in_every_subpackage(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    packages = sorted({p.parent for base in ("device/hipcam", "web_ui") for p in (root / base).rglob("__init__.py")})
    for pkg in packages:
        (pkg / "__init__.py").write_text((pkg / "__init__.py").read_text() + '\n_planted: int = "not an int"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    reported = {line.split(":")[0] for line in proc.stdout.splitlines() if "[assignment]" in line}
    expected = {str((pkg / "__init__.py").relative_to(root)) for pkg in packages}
    assert reported == expected, f"not checked: {sorted(expected - reported)}"


def _python_files() -> list[Path]:
    return sorted(p for base in SOURCES for p in base.rglob("*.py"))


def test_unclassified_is_spelled_once() -> None:
    # Python: any string constant "U" or "unknown" (docstrings may talk about the class).
    offenders = [
        f"{p.relative_to(REPO)}:{node.lineno}"
        for p in _python_files()
        if p != DOMAIN
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Constant) and node.value in ("U", "unknown")
    ]
    offenders += [
        f"{p.relative_to(REPO)}:{n}"
        for p in sorted((REPO / "web_ui").rglob("*.js")) + sorted((REPO / "web_ui").rglob("*.html"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"[\"'](U|unknown)[\"']", line)
    ]
    assert not offenders, f"spell the unclassified class as hipcam.domain.UNKNOWN: {offenders}"


def _landmark_literals(tree: ast.AST) -> list[int]:
    """Lines where small-integer tuples/lists or subscripts name body landmarks by number."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List) and node.elts:
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and type(e.value) is int]
            if len(values) == len(node.elts) and all(0 <= v <= 32 for v in values) and LANDMARK_LITERALS & set(values):
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and type(node.slice.value) is int
            and node.slice.value in LANDMARK_LITERALS
        ):
            lines.append(node.lineno)
    return lines


def test_landmark_indices_are_named_outside_the_domain_module() -> None:
    offenders = [
        f"{p.relative_to(REPO)}:{line}"
        for p in _python_files()
        if p != DOMAIN
        for line in _landmark_literals(ast.parse(p.read_text()))
    ]
    js_pair = re.compile(r"\[\s*(11|12|23|24|25|26)\s*,\s*\d+\s*\]|\b(vis|P|mid)\((11|12|23|24|25|26)\b")
    offenders += [
        f"{p.relative_to(REPO)}:{n}"
        for p in sorted((REPO / "web_ui" / "static").glob("*.js"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if js_pair.search(line)
    ]
    assert not offenders, f"use hipcam.domain's names (or the page vocabulary): {offenders}"


def test_the_literal_checker_finds_a_planted_index() -> None:
    assert _landmark_literals(ast.parse("HIPS = (23, 24)\nx = lm[25]\n")) == [1, 2]
    assert _landmark_literals(ast.parse("shape = (33, 5)\nw = a[0]\n")) == []


def test_files_and_functions_are_small() -> None:
    too_long = []
    for p in _python_files() + sorted((REPO / "web_ui" / "static").glob("*.js")):
        n = len(p.read_text().splitlines())
        if n > MAX_FILE_LINES:
            too_long.append(f"{p.relative_to(REPO)} ({n} lines)")
        if p.suffix == ".py":
            for node in ast.walk(ast.parse(p.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        too_long.append(f"{p.relative_to(REPO)}:{node.name} ({length} lines)")
    assert not too_long, too_long


def test_readme_layout_names_every_package() -> None:
    readme = (REPO / "README.md").read_text()
    layout = readme[readme.index("## Layout") :].split("\n## ", 1)[0]
    packages = sorted(
        str(p.parent.relative_to(REPO / "device")) for p in (REPO / "device" / "hipcam").rglob("__init__.py")
    )
    missing = [pkg for pkg in packages if pkg.split("/")[-1] + "/" not in layout]
    assert not missing, f"README's layout section does not show {missing}"
