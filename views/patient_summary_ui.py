"""The Patients page's "Summary for the patient" button (issue 16): one patient's own page to print or download.

Only for a patient this user may see (checked here again, not only by the page); the page is built from the
patient's whole history (analytics/patient_summary.py, reports/patient_summary.py) and the download is audited as
viewing that patient (`view_patient`, the code, outcome "ok: summary for the patient"), from the button's on_click
as the other downloads are.
"""
from __future__ import annotations

import streamlit as st

from analytics.patient_summary import AUDIT_OUTCOME, patient_summary
from reports.patient_summary import patient_summary_html
from views import signin
from views.context import Context



def _page(derived, patient: str, settings, show_code: bool) -> bytes | None:
    """The page's bytes; None when the patient has no session up to the as-of date."""
    try:
        summary = patient_summary(derived, patient, settings)
    except ValueError:
        return None
    return patient_summary_html(summary, show_code=show_code).encode("utf-8")


def file_name(patient: str, show_code: bool) -> str:
    """The download's name: the code only when it is printed on the page too."""
    safe = "".join(ch for ch in str(patient) if ch.isalnum() or ch in "-_")[:64]
    return f"treatment_summary_{safe}.html" if show_code and safe else "treatment_summary.html"


def summary_button(ctx: Context, patient: str) -> None:
    """The checkbox (print the code or not) and the download button of the patient's own summary page."""
    if not ctx.may_see_patient(patient):
        return
    st.markdown("**Summary for the patient**: one page in plain words for the patient to take home: their own "
                "onset, peak and benefit, how their injections have helped, the next appointment window, side "
                "effects and what to discuss. Open it in a browser to print it (A4 or Letter).")
    show_code = st.checkbox("Print the patient's code on the page (to file it)", key="summary_show_code")
    page = ctx.cached("patient_summary_page", _page, lambda: ((ctx.derived, patient, ctx.settings, show_code), {}),
                      scope="all", extra=(str(patient), show_code))
    if page is None:
        st.caption("No sessions for this patient up to the as-of date, so there is no summary to give.")
        return
    st.download_button("Summary for the patient", page, file_name(patient, show_code), "text/html",
                       key="dl_patient_summary", icon=":material/description:", on_click=signin.record,
                       args=("view_patient", str(patient), AUDIT_OUTCOME))
