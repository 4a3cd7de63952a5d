"""Issue 9: a hand-written corpus of identifying cases and look-alikes, loaded as a clinic would upload them.

Every identifying case must stop the file (recall 100%); every look-alike must load (false alarms 0). The test
prints both rates. A case is (where, text): 'header' = a column so named (harmless values), 'value' = a column
'Ref' whose cells hold it, 'code' = a patient code, 'session' = a session code, 'notes' = a sentence in a notes
column (beside ordinary notes), 'site' / 'practitioner' = a value of that recognised column.
"""
from analytics.ingest import load_sessions
from tests.privacy_helpers import BASE, file_bytes, refused_for_privacy, row, with_column

HEADERS = [
    "name", "Forename", "First name", "Given name", "Last name", "Family name", "Surname", "Client name",
    "Patient name", "Full name", "Initials", "Born", "Birth date", "DOB", "D.O.B.", "Date of birth",
    "date_of_birth", "Age at (exact date)", "Address line 2", "Address", "Street", "Town", "Postcode", "Post code",
    "ZIP", "Phone", "Tel", "Telephone", "Mobile", "Cell", "Fax", "E-mail", "e-mail address", "EMAIL", "NHS no",
    "NHS Number", "CHI", "MRN", "Hospital number", "Medical record number", "Unit number", "SSN",
    "National insurance", "Medicare", "Insurance number", "Next of kin", "GP name", "Carer", "Emergency contact",
    "IP address", "URL", "Photo", "CLIENT  NAME", "next-of-kin",
]
VALUES = [
    "jo@example.com", "07700 900123", "+44 20 7946 0958", "9434765919", "943 476 5919", "LS6 2AB",
    "1961-03-02", "Jane Doe", "http://example.com/jane", "192.168.0.12", "123-45-6789", "0103611234",
]
CODES = ["Jane Doe", "Mary O'Brien", "DOE, Jane", "jane.doe@example.com", "9434765919", "MR SMITH"]
SESSIONS = ["9434765919-01", "jo@example.com/1"]
NOTES = [
    "call her on 07700 900123", "jane.doe@example.com", "NHS no 943 476 5919", "12 Acacia Avenue, LS6 2AB",
    "DOB 02/03/1961", "mob 07700900123 after 6pm", "email JANE.DOE@EXAMPLE.COM please", "tel +44 (0)113 496 0000",
    "nhs number 9434765919", "lives at 4 Church Road", "lives at 12 acacia avenue", "post code ls6 2ab",
    "born 1961", "D.O.B: 2 March 1961", "date of birth 1961-03-02", "seen with Mrs Jones", "Mr O'Brien called",
    "DR SMITH reviewed", "Jane Doe called back", "spoke to Mary O'Brien", "CHI 0103611234",
    "see www.example.com/jane", "IP 10.1.2.3 logged", "SSN 123-45-6789", "02/03/1961 birthday",
    "pt's daughter Sarah Jones rang",
]
SITES = ["jo@example.com", "07700 900123"]

LOOK_ALIKE_HEADERS = [
    "Site name", "Clinic", "Referral source", "Ethnicity", "Dose band (U)", "Practitioner", "Muscles", "Notes",
    "Trial arm", "age", "sex", "Comments", "Product batch", "Photophobia", "Capacity", "Contact lens", "Week",
    "Outcome", "Weight (kg)", "Cycle no.",
]
LOOK_ALIKE_NOTES = [
    "200 U in 4 mL", "review in 12 weeks", "EMG guided", "booster 2 wk", "Reviewed 14/03/2025",
    "next injection 2025-06-14", "Botox 100 U", "Dysport 500 U to Splenius Capitis", "Xeomin", "Levator Scapulae 50 U",
    "Splenius Capitis and Trapezius", "North Wing", "DR04 injected", "PR07", "good response, pain 3/10",
    "dilution 100 U in 2.5 mL saline", "US guided, 25G needle", "Sternocleidomastoid left 30 U",
    "weakness neck mild", "dysphagia 2 weeks", "C5 6th level", "seen at Pain Clinic", "MS Clinic referral",
    "batch 12345678", "lot C1234", "repeat in 3 months", "onset day 5 peak day 14", "TWSTRS 32 to 24",
    "dose reduced to 150 U", "3 days in row", "rated 2 on PGI-C", "Week 12 review", "14 March 2025 session",
    "0.5 mL per site", "ratio 1:3", "10000 U", "Pain 7/10 before, 3/10 after", "no adverse events",
    "South Wing", "Ward 7", "EMG-guided Levator", "Follow up 28 days", "Botox 2025-03-14 Central",
]
LOOK_ALIKE_SITES = ["North Wing", "Mary Seacole Ward", "St James's", "Central"]
LOOK_ALIKE_PRACTITIONERS = ["DR04", "PR07", "Dr Patel"]
LOOK_ALIKE_VALUES = ["GP", "Neurology", "Active Drug", "Placebo", "5000U", "high", "Splenius Capitis", "65"]

IDENTIFYING = ([("header", h) for h in HEADERS] + [("value", v) for v in VALUES] + [("code", c) for c in CODES]
               + [("session", s) for s in SESSIONS] + [("notes", n) for n in NOTES] + [("site", s) for s in SITES])
LOOK_ALIKES = ([("header", h) for h in LOOK_ALIKE_HEADERS] + [("notes", n) for n in LOOK_ALIKE_NOTES]
               + [("site", s) for s in LOOK_ALIKE_SITES] + [("practitioner", p) for p in LOOK_ALIKE_PRACTITIONERS]
               + [("value", v) for v in LOOK_ALIKE_VALUES])
ORDINARY_NOTES = ["EMG guided", "review in 12 weeks", "good response"]


def file_of(where: str, text: str) -> bytes:
    if where == "header":
        return with_column(text, ["x", "y", "z"])
    if where == "value":
        return with_column("Ref", [text, text, text])
    if where == "notes":
        return with_column("notes", [*ORDINARY_NOTES, text])
    if where in ("site", "practitioner"):
        return with_column(where, ["Central", text])
    if where == "code":
        return file_bytes([row("P1"), row(text)], BASE)
    if where == "session":
        return file_bytes([row("P1") + ["S1"], row("P2") + [text]], BASE + ["session_id"])
    raise ValueError(where)


def test_corpus_recall_and_false_alarms(capsys):
    assert len(IDENTIFYING) >= 60 and len(LOOK_ALIKES) >= 60
    missed = [case for case in IDENTIFYING if not refused_for_privacy(file_of(*case))]
    alarms = [case for case in LOOK_ALIKES if refused_for_privacy(file_of(*case))]
    recall = 1 - len(missed) / len(IDENTIFYING)
    false_alarm_rate = len(alarms) / len(LOOK_ALIKES)
    with capsys.disabled():
        print(f"\nidentifier corpus: {len(IDENTIFYING)} identifying cases, recall {recall:.0%}; "
              f"{len(LOOK_ALIKES)} look-alikes, false alarms {false_alarm_rate:.0%}")
    assert missed == [] and alarms == []


def test_no_refusal_message_echoes_a_corpus_value_in_full():
    for where, text in IDENTIFYING:
        if where in ("header",):
            continue
        result = load_sessions(file_of(where, text))
        words = " ".join(result.file_errors)
        if where == "notes":  # the sentence's identifier is shown masked, never whole
            assert text not in words, text


def test_every_identifying_case_is_usable_after_its_way_on():
    for where, text in IDENTIFYING:
        if where in ("code",):
            continue
        options = {"pseudonymise_ids": True, "key": "k"} if where == "session" else {"drop_identifiers": True}
        if where == "notes":
            options = {"redact_free_text": True}
        result = load_sessions(file_of(where, text), **options)
        assert not result.refused, (where, text, result.file_errors)
        assert text not in result.data.to_csv(), (where, text)
