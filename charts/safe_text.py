"""User text made inert for plotly: a site, practitioner, product, muscle, patient code or column name is shown as
written, never read as markup.

Why: plotly draws every text it shows (titles, axis and tick labels, legend names, hover labels, annotations, text
on bars) through a small HTML subset: `<a href>` becomes a live link, `<b>`, `<br>`, `<span style>` are applied,
and a text between `$` signs is typeset by MathJax where it is loaded (MathJax has `\\href`). Plotly decodes the
entities `&amp;` `&lt;` `&gt;` and numeric ones (`&#36;`) back to the characters when it draws, so writing those
characters as entities shows them literally and creates no element. Nothing else needs escaping (quotes only
matter inside a tag, and no tag is left).

Rule: escape each user string exactly once, where a table's label column becomes figure data (the builders in
charts/ call `plotly_text` / `plotly_labels` there and nowhere else), so 'A&E' is drawn 'A&E', not '&amp;amp;'.
Escaping is one-to-one, so distinct labels stay distinct and their order (category arrays) is unchanged.
"""
from __future__ import annotations

import pandas as pd

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "$": "&#36;"}
_TABLE = str.maketrans(_ENTITIES)


def plotly_text(value) -> str:
    """One user string as inert plotly text: '<b>x</b> & $y$' -> '&lt;b&gt;x&lt;/b&gt; &amp; &#36;y&#36;'."""
    return str(value).translate(_TABLE)


def plotly_labels(values) -> pd.Series:
    """A column of labels (already text) as inert plotly text, index kept; vectorised ('&' first, so the
    entities written for '<' and '>' are not escaped again)."""
    text = pd.Series(values).astype("str")
    for char, entity in _ENTITIES.items():
        text = text.str.replace(char, entity, regex=False)
    return text
