"""Text tables (Markdown, LaTeX) and the published-number CSVs, shared by studies and report.

A leaf below both: the studies write their own small tables with it and the report
builds its pages with it, so neither imports the other to format a table.
"""

from snacs.tabular.markdown import markdown_table
from snacs.tabular.reference import read_reference_csv

__all__ = ["markdown_table", "read_reference_csv"]
