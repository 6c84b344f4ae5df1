"""Pareto reports of a search: HTML (self-contained, with the front plotted), JSON, CSV and
Markdown, all rendered from one `ReportData`."""

from greenauto.pareto import register_report_writer
from greenauto.report._data import ReportData, build_report_data
from greenauto.report._export import FORMATS, export_report
from greenauto.report._json import (
    REPORT_SCHEMA,
    REPORT_SCHEMA_VERSION,
    read_report,
    report_data_from_dict,
    report_dict,
)

register_report_writer(export_report)  # behind the deprecated ParetoFront.export_report

__all__ = [
    "FORMATS",
    "REPORT_SCHEMA",
    "REPORT_SCHEMA_VERSION",
    "ReportData",
    "build_report_data",
    "export_report",
    "read_report",
    "report_data_from_dict",
    "report_dict",
]
