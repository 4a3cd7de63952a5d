"""The data dictionary and template come from the schema, and the committed docs match them."""
from pathlib import Path

from analytics.dictionary import data_dictionary, dictionary_markdown, template_csv

ROOT = Path(__file__).resolve().parent.parent


def test_docs_match_the_schema():
    assert (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8") == dictionary_markdown()


def test_dictionary_rows():
    table = data_dictionary()
    row = table.set_index("column").loc["baseline_pain"]
    assert (row["type"], row["required"], row["range"]) == ("whole number", "no", "0 to 10")
    assert table.set_index("column").loc["total_units", "range"] == "above 0"
    assert list(table["required"][table["required"] == "yes"].index.map(table["column"].get)) == [
        "patient_id", "session_date", "product", "total_units"]


def test_template_has_every_canonical_header():
    assert template_csv().startswith("patient_id,session_date,session_id,site,practitioner_id,indication,product,")
    assert template_csv("assessments").strip().split(",") == [
        "patient_id", "session_id", "session_date", "days_after", "week", "assessment_date", "pain", "twstrs", "pgic"]
