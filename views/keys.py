"""Every st.session_state key the pages share, in one place, so pages and tests agree on them.

A key here outlives the widget that set it, or is read by another module than the one that wrote it. Widget keys
that only name a widget (downloads, buttons) stay beside the widget."""
from __future__ import annotations

# The data in use and what was computed from it.
UPLOAD = "active_upload"  # the upload in use in this browser session: {"name", "key", "result"}
MEMO = "_memo"  # small results computed from an upload (this session only)
MEMO_BIG = "_memo_big"  # the derived session table of an upload (this session only)
CONTEXT = "_context"  # the Context the entry point built for this run (None: the data could not be opened)

# Who is using the app (views/signin.py).
ACCESS = "_access"  # the analytics.access.Access the sign-in gate granted in this run
AUDITED_PAGE = "_audited_page"  # the page whose view_page row was last written in this browser session
AUDITED_PATIENT = "_audited_patient"  # (patient code, outcome) of the last view_patient row

# The sidebar.
PERIOD = "period"
CUSTOM_RANGE = "custom_range"
AS_OF = "as_of"  # the chosen as-of date (None: the latest session), kept while its widget is not drawn
AS_OF_WIDGET = "w_as_of"
THRESHOLDS_EXPANDER = "exp_thresholds"


def setting(name: str) -> str:
    """The value of a threshold (Settings field `name`), as shown, kept while its widget is not drawn."""
    return f"setting_{name}"


def setting_widget(name: str) -> str:
    """The number input of a threshold (drawn only while the thresholds expander is open)."""
    return f"w_setting_{name}"


def filter_values(column: str) -> str:
    """The multiselect of a filter column."""
    return f"filter_{column}"


# The Data page.
UPLOAD_CHOICES = "_upload_choices"  # {file hash: Choices} for the file being checked
INGEST_MEMO = "_memo_ingest"  # checked uploads (this session only)
DATE_ORDER = "date_order"
SHEET = "upload_sheet"  # the worksheet chosen for a workbook upload
SHEETS_MEMO = "_sheets_memo"  # the worksheet names of the current upload
MAPPING_MESSAGE = "_mapping_message"
MAPPING_UPLOAD = "mapping_upload"  # the mapping JSON file the user uploaded
STORE_MESSAGE = "store_message"
STORE_CLEARING = "store_clearing"  # {file hash: {column: stored values the import would clear}}, awaiting a confirm
STORE_IMPORTED = "_store_imported"  # {read key: {"batch", "message", "version"}}: the checked file this session imported
UPLOAD_WIDGET_PREFIXES = ("map_", DATE_ORDER, SHEET, "report_", "assessment_")  # forgotten when a new file is uploaded


def mapping_choice(header: str) -> str:
    """The selectbox that maps one unrecognised file header to a field."""
    return f"map_{header}"


def fit_model(source_key: str) -> str:
    """Set once the user asked for the mixed model on this data (big data only)."""
    return f"fit_model_{source_key}"


# Views you can share (views/shared_view.py).
ADDRESS_READ = "_address_read"  # the page address's choices were read into the sidebar in this browser session
ADDRESS_NOTICE = "_address_notice"  # what the address asked for that was ignored, said once
