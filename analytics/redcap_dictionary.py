"""A REDCap project's data dictionary: the standard 18-column CSV REDCap downloads and uploads.

Each row is one field: its variable name, form, type, label, choices ("1, Botox | 2, Dysport"), validation and
whether it is flagged as an identifier. `read_dictionary` turns the bytes (a file, or the API's
`content=metadata` answer, whose headers are the snake_case names) into a `Dictionary`; a file that is not a
data dictionary is refused with a plain message (reading.FileRefused). Nothing here reads the records.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .reading import FileRefused, read_table

# The dictionary's columns as REDCap's CSV download names them, and as the API's metadata export does.
COLUMNS = (
    ("field_name", "Variable / Field Name"),
    ("form_name", "Form Name"),
    ("section_header", "Section Header"),
    ("field_type", "Field Type"),
    ("field_label", "Field Label"),
    ("select_choices_or_calculations", "Choices, Calculations, OR Slider Labels"),
    ("field_note", "Field Note"),
    ("text_validation_type_or_show_slider_number", "Text Validation Type OR Show Slider Number"),
    ("text_validation_min", "Text Validation Min"),
    ("text_validation_max", "Text Validation Max"),
    ("identifier", "Identifier?"),
    ("branching_logic", "Branching Logic (Show field only if...)"),
    ("required_field", "Required Field?"),
    ("custom_alignment", "Custom Alignment"),
    ("question_number", "Question Number (surveys only)"),
    ("matrix_group_name", "Matrix Group Name"),
    ("matrix_ranking", "Matrix Ranking?"),
    ("field_annotation", "Field Annotation"),
)
FIELD_TYPES = ("text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc", "descriptive",
               "file", "slider", "sql")
CHOICE_TYPES = ("dropdown", "radio", "checkbox", "yesno", "truefalse")  # a coded value with a label
NO_DATA_TYPES = ("descriptive",)  # fields that never hold a value in an export
FIXED_CHOICES = {"yesno": {"1": "Yes", "0": "No"}, "truefalse": {"1": "True", "0": "False"}}


@dataclass(frozen=True)
class Field:
    """One field of the dictionary: what the export's column(s) hold and how to read them."""

    name: str
    form: str
    field_type: str
    label: str
    choices: dict[str, str] = field(default_factory=dict)  # code -> label, in the dictionary's order
    validation: str = ""
    identifier: bool = False
    note: str = ""

    @property
    def is_checkbox(self) -> bool:
        return self.field_type == "checkbox"

    def checkbox_columns(self) -> dict[str, str]:
        """Export column -> code of each choice of a checkbox: 'muscles___1' -> '1' (REDCap writes the code in
        lower case with anything but letters, digits and _ as _: code '-1' is column 'ae____1')."""
        return {f"{self.name}___{checkbox_suffix(code)}": code for code in self.choices}


def checkbox_suffix(code: str) -> str:
    """The part of a checkbox's export column that names one choice."""
    return re.sub(r"[^a-z0-9_]", "_", code.strip().lower())


@dataclass
class Dictionary:
    """The fields of a project in order; the first is the record ID field (REDCap's rule)."""

    fields: list[Field]

    @property
    def record_id(self) -> str:
        return self.fields[0].name

    @property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def forms(self) -> list[str]:
        """The forms (instruments) in order."""
        return list(dict.fromkeys(f.form for f in self.fields))

    def identifiers(self) -> list[Field]:
        """The fields the project marks as identifiers (Identifier? = y)."""
        return [f for f in self.fields if f.identifier]


def parse_choices(text: str, field_type: str = "dropdown") -> dict[str, str]:
    """'1, Botox | 2, Dysport' -> {'1': 'Botox', '2': 'Dysport'}; a label may hold commas. ValueError when a
    choice has no code."""
    if field_type in FIXED_CHOICES:
        return dict(FIXED_CHOICES[field_type])
    out: dict[str, str] = {}
    for item in (text or "").split("|"):
        item = item.strip()
        if not item:
            continue
        code, comma, label = item.partition(",")
        if not comma or not code.strip():
            raise ValueError(f"the choice '{item}' is not written 'code, label'")
        out[code.strip()] = label.strip()
    return out


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z]", "", header.lower())


_KEYS = {**{_header_key(name): name for name, _ in COLUMNS}, **{_header_key(title): name for name, title in COLUMNS}}
_KEYS[_header_key("Branching Logic")] = "branching_logic"  # older downloads write it shorter
_KEYS[_header_key("Question Number")] = "question_number"


def looks_like_dictionary(headers: list[str]) -> bool:
    """True when the headers are a REDCap data dictionary's (its field name, form, type and label columns)."""
    found = {_KEYS.get(_header_key(h)) for h in headers}
    return {"field_name", "form_name", "field_type", "field_label"} <= found


def read_dictionary(source: str | Path | bytes | BinaryIO) -> Dictionary:
    """Read a data dictionary (CSV bytes, a path or a file object); FileRefused with a plain message when the
    file is not one or a row cannot be read (named by its line and variable)."""
    raw = read_table(source)
    columns = {_KEYS.get(_header_key(h)): h for h in raw.headers if _KEYS.get(_header_key(h))}
    needed = [title for name, title in COLUMNS[:5] if name not in columns and name != "section_header"]
    if needed:
        raise FileRefused("This is not a REDCap data dictionary: it lacks the column(s) " + ", ".join(
            f"'{t}'" for t in needed) + ". Download it from REDCap (Project Setup > Data Dictionary) as CSV.")
    if raw.bad_rows:
        line, reason = raw.bad_rows[0]
        raise FileRefused(f"The data dictionary cannot be read: line {line}: the row {reason}.")
    frame = raw.frame.rename(columns={h: n for n, h in columns.items()})
    fields, seen = [], set()
    for line, row in zip(raw.lines, frame.to_dict("records")):
        name = str(row.get("field_name") or "").strip()
        where = f"line {line} of the data dictionary ('{name}')"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise FileRefused(f"The data dictionary cannot be read: {where}: a variable name is lower-case letters, "
                              "digits and _, starting with a letter.")
        if name in seen:
            raise FileRefused(f"The data dictionary cannot be read: {where}: the variable is listed twice.")
        seen.add(name)
        field_type = str(row.get("field_type") or "").strip().lower()
        if field_type not in FIELD_TYPES:
            raise FileRefused(f"The data dictionary cannot be read: {where}: unknown field type '{field_type}' "
                              f"(REDCap's are {', '.join(FIELD_TYPES)}).")
        try:
            choices = (parse_choices(str(row.get("select_choices_or_calculations") or ""), field_type)
                       if field_type in CHOICE_TYPES else {})
        except ValueError as err:
            raise FileRefused(f"The data dictionary cannot be read: {where}: {err}.") from None
        fields.append(Field(name, str(row.get("form_name") or "").strip(), field_type,
                            _plain_label(str(row.get("field_label") or "")), choices,
                            str(row.get("text_validation_type_or_show_slider_number") or "").strip().lower(),
                            str(row.get("identifier") or "").strip().lower() in ("y", "yes", "1"),
                            str(row.get("field_note") or "").strip()))
    if not fields:
        raise FileRefused("The data dictionary lists no fields.")
    return Dictionary(fields)


def _plain_label(text: str) -> str:
    """A label without the HTML REDCap allows in it ('<b>Date</b> of injection' -> 'Date of injection')."""
    return " ".join(re.sub(r"<[^>]*>", " ", text).split())
