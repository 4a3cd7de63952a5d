"""Issue 9: random text with a planted identifier (random shape, position and surrounding words) is never
accepted unredacted: load() refuses it, and with redact_free_text=True the stored text holds no planted string."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.free_text import redact_text
from analytics.ingest import load_sessions
from analytics.reason_codes import Refusal
from tests.privacy_helpers import with_column

WORDS = ["review", "in", "12", "weeks", "EMG", "guided", "pain", "better", "Botox", "200", "U", "neck", "booster",
         "2", "wk", "Splenius", "Capitis", "left", "side", "good", "response", "North", "Wing", "DR04", "mild",
         "weakness", "14/03/2025", "4", "mL", "called", "today", "and", "the", "patient", "reports"]
FIRST = ["Jane", "Mary", "John", "Sarah", "David", "Fatima", "Liam"]
LAST = ["Doe", "O'Brien", "Smith", "Jones", "McDonald", "Patel", "Smith-Jones"]
TITLES = ["Mr", "Mrs", "Ms", "Miss", "Dr"]
STREETS = ["Acacia Avenue", "Church Road", "High Street", "Mill Lane", "Park Drive"]
NHS = ["9434765919", "943 476 5919", "4010232137", "401 023 2137"]


def phones(draw):
    rest = draw(st.text("0123456789", min_size=6, max_size=6))
    return draw(st.sampled_from([f"07700 9{rest[:5]}", f"07{rest[:3]} {rest}", f"+44 20 7946 {rest[:4]}",
                                 f"(0113) 496 {rest[:4]}", f"+1 415 555 {rest[:4]}", f"0161 {rest[:3]} {rest[3:]}"]))


@st.composite
def identifiers(draw):
    kind = draw(st.sampled_from(["e-mail", "phone", "nhs", "postcode", "dob", "title", "name", "address"]))
    if kind == "e-mail":
        local = draw(st.text("abcdefghijklmnopqrstuvwxyz.", min_size=1, max_size=10)).strip(".") or "x"
        return f"{local}@{draw(st.sampled_from(['example.com', 'nhs.net', 'mail.co.uk']))}"
    if kind == "phone":
        return phones(draw)
    if kind == "nhs":
        return draw(st.sampled_from(NHS))
    if kind == "postcode":
        area = draw(st.sampled_from(["LS6", "M1", "EH10", "SW1A", "B15", "G12", "CF24", "BT9"]))
        code = f"{area} {draw(st.integers(0, 9))}{draw(st.sampled_from(['AB', 'XY', 'DN', 'UW', 'HQ']))}"
        return code if draw(st.booleans()) else code.lower()
    if kind == "dob":
        day, month, year = draw(st.integers(1, 28)), draw(st.integers(1, 12)), draw(st.integers(1925, 1999))
        shape = draw(st.sampled_from(["DOB {d:02d}/{m:02d}/{y}", "born {y}", "{d:02d}/{m:02d}/{y}",
                                      "{y}-{m:02d}-{d:02d}", "date of birth {d} March {y}"]))
        return shape.format(d=day, m=month, y=year)
    if kind == "title":
        return f"{draw(st.sampled_from(TITLES))} {draw(st.sampled_from(LAST))}"
    if kind == "name":
        return f"{draw(st.sampled_from(FIRST))} {draw(st.sampled_from(LAST))}"
    return f"{draw(st.integers(1, 250))} {draw(st.sampled_from(STREETS))}"


@st.composite
def planted(draw):
    before = draw(st.lists(st.sampled_from(WORDS), max_size=6))
    after = draw(st.lists(st.sampled_from(WORDS), max_size=6))
    secret = draw(identifiers())
    return " ".join([*before, secret, *after]), secret


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted())
def test_a_planted_identifier_is_refused_or_redacted(case):
    text, secret = case
    data = with_column("notes", ["EMG guided", text, "review in 12 weeks"])
    refused = load_sessions(data)
    assert refused.refused and refused.refusal == Refusal.FREE_TEXT_IDENTIFIERS
    assert secret not in " ".join(refused.file_errors)
    redacted = load_sessions(data, redact_free_text=True)
    assert not redacted.refused
    assert secret not in redacted.data.to_csv()
    assert secret not in redact_text(text, 2007)
