"""Reports to share, made from the same metric tables and display rules as the app: one self-contained HTML file
(reports.html) and an Excel workbook of the tables (reports.excel)."""
from reports.excel import excel_report
from reports.html import CHARTS, html_report

__all__ = ["CHARTS", "excel_report", "html_report"]
