"""LaTeX tables (booktabs) for pasting into a paper, from the same cells the Markdown shows.

Every table of the harness is built once as headers plus rows of display strings; this
module only escapes those strings for LaTeX and lays them out, so a number never differs
between the Markdown, the HTML report and the LaTeX. The output needs
``\\usepackage{booktabs}`` and nothing else; the few non-ASCII symbols the tables use
(±, ↓, Δ, φ, w̄, ×, ...) become math-mode commands, so pdfLaTeX compiles it unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_REPLACEMENTS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "w\u0304": r"$\bar{w}$",
    "±": r"$\pm$",
    "↓": r"$\downarrow$",
    "Δ": r"$\Delta$",
    "φ": r"$\varphi$",
    "×": r"$\times$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "²": r"$^{2}$",
    "→": r"$\rightarrow$",
    "–": "--",
    "—": "---",
}
# Longest keys first, so the two-character "w̄" wins over a plain "w" prefix.
_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_REPLACEMENTS, key=len, reverse=True)))


def escape(text: object) -> str:
    """``text`` as LaTeX source: special characters escaped, known symbols in math mode."""
    return _PATTERN.sub(lambda match: _REPLACEMENTS[match.group(0)], str(text))


def tabular(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A booktabs ``tabular``: first column left-aligned, the others right-aligned."""
    width = len(headers)
    if any(len(row) != width for row in rows):
        raise ValueError(f"every row needs {width} cells, like the header")
    spec = align or "l" + "r" * (width - 1)
    lines = [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(escape(h) for h in headers) + r" \\",
        r"\midrule",
        *(" & ".join(escape(cell) for cell in row) + r" \\" for row in rows),
        r"\bottomrule",
        r"\end{tabular}",
    ]
    return "\n".join(lines)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    caption: str,
    label: str,
    align: str = "",
) -> str:
    """A floating ``table`` with caption and label around :func:`tabular`.

    ``\\resizebox`` is avoided on purpose (it would need graphicx); wide tables are set
    in ``\\small`` and may be moved into a ``table*`` by hand.
    """
    return "\n".join(
        [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            rf"\caption{{{escape(caption)}}}",
            rf"\label{{{label}}}",
            tabular(headers, rows, align),
            r"\end{table}",
        ]
    )


def document(tables: Sequence[str], comment: str) -> str:
    """Several tables as one ``.tex`` fragment with a header comment saying what it needs."""
    header = [f"% {line}" for line in comment.splitlines()]
    header.append(r"% Needs \usepackage{booktabs}.")
    return "\n".join(header) + "\n\n" + "\n\n".join(tables) + "\n"


def label_key(text: str) -> str:
    """A LaTeX label fragment from a benchmark or table name (letters, digits, dashes)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
