"""The data contract in code: canonical columns, their types and ranges, header aliases and vocabularies.

This is the one place the product keeps the rules of the data contract. The ingestion reads every rule from
here, the data dictionary (docs/data-dictionary.md and the app's download) is generated from here, and tests
check both.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

PRODUCTS = (
    "onabotulinumtoxinA",
    "abobotulinumtoxinA",
    "incobotulinumtoxinA",
    "rimabotulinumtoxinB",
    "other",
)

# Brand and generic names, any case; keys are normalised with `normalise_token`.
PRODUCT_ALIASES = {
    "onabotulinumtoxina": "onabotulinumtoxinA",
    "onabotulinumtoxin": "onabotulinumtoxinA",
    "ona": "onabotulinumtoxinA",
    "botox": "onabotulinumtoxinA",
    "vistabel": "onabotulinumtoxinA",
    "vistabex": "onabotulinumtoxinA",
    "abobotulinumtoxina": "abobotulinumtoxinA",
    "abobotulinumtoxin": "abobotulinumtoxinA",
    "abo": "abobotulinumtoxinA",
    "dysport": "abobotulinumtoxinA",
    "azzalure": "abobotulinumtoxinA",
    "incobotulinumtoxina": "incobotulinumtoxinA",
    "incobotulinumtoxin": "incobotulinumtoxinA",
    "inco": "incobotulinumtoxinA",
    "xeomin": "incobotulinumtoxinA",
    "bocouture": "incobotulinumtoxinA",
    "rimabotulinumtoxinb": "rimabotulinumtoxinB",
    "rimabotulinumtoxin": "rimabotulinumtoxinB",
    "rima": "rimabotulinumtoxinB",
    "myobloc": "rimabotulinumtoxinB",
    "neurobloc": "rimabotulinumtoxinB",
    "other": "other",
}

INDICATIONS = (
    "cervical_dystonia",
    "neck_pain",
    "tension_headache",
    "upper_back_pain",
    "arm_pain",
    "other",
)

INDICATION_ALIASES = {
    "cervicaldystonia": "cervical_dystonia",
    "cd": "cervical_dystonia",
    "spasmodictorticollis": "cervical_dystonia",
    "torticollis": "cervical_dystonia",
    "neckpain": "neck_pain",
    "stiffneck": "neck_pain",
    "tensionheadache": "tension_headache",
    "tensiontypeheadache": "tension_headache",
    "headache": "tension_headache",
    "upperbackpain": "upper_back_pain",
    "backpain": "upper_back_pain",
    "armpain": "arm_pain",
    "other": "other",
}

ADVERSE_EVENTS = (
    "none",
    "injection_site_pain",
    "neck_weakness",
    "dysphagia",
    "flu_like",
    "headache",
    "dry_mouth",
    "other",
)

ADVERSE_EVENT_ALIASES = {
    "none": "none",
    "nil": "none",
    "no": "none",
    "injectionsitepain": "injection_site_pain",
    "injectionsitediscomfort": "injection_site_pain",
    "neckweakness": "neck_weakness",
    "weakness": "neck_weakness",
    "dysphagia": "dysphagia",
    "swallowingdifficulty": "dysphagia",
    "flulike": "flu_like",
    "flulikesymptoms": "flu_like",
    "headache": "headache",
    "drymouth": "dry_mouth",
    "other": "other",
}

# Doses above these are possible but implausible for one session: a warning, not a rejection.
IMPLAUSIBLE_UNITS = {
    "onabotulinumtoxinA": 600.0,
    "incobotulinumtoxinA": 600.0,
    "abobotulinumtoxinA": 1500.0,
    "rimabotulinumtoxinB": 15000.0,
}


# Cell texts that mean "no value" (data contract, section 3), matched after trimming spaces.
# Export blanks are silent; not-recorded tokens (any case) are blank in an optional column with one warning per
# column, and a "blank, but required" rejection in a required one. 'nan' is a blank except in a number column,
# where it is a value that cannot be real.
EXPORT_BLANKS = ("", "NA", "NULL", "null", "#N/A")
NAN_TOKENS = ("nan",)  # any case
NOT_RECORDED_TOKENS = ("\u2014", "\u2013", "-", "n.a.", "n/a", "na", "?", "unknown")  # any case

# No date in a clinic's file can be earlier: botulinum toxin was first licensed for clinical use in December 1989.
EARLIEST_DATE = date(1989, 12, 1)
# What Excel writes for an empty date cell (its day 0, and day 1 of its 1900 calendar): named in the reason.
EXCEL_ZERO_DATES = ("1899-12-30", "1899-12-31", "1900-01-00", "1900-01-01")

@dataclass(frozen=True)
class Vocabulary:
    """The values a category or list column accepts: normalised spelling -> canonical value, and how a message
    lists them."""

    aliases: dict[str, str]
    accepted: str


PRODUCT_VOCABULARY = Vocabulary(PRODUCT_ALIASES,
                                "Botox, Dysport, Xeomin, Myobloc/NeuroBloc, their generic names, or other")
INDICATION_VOCABULARY = Vocabulary(INDICATION_ALIASES, ", ".join(INDICATIONS))
ADVERSE_EVENT_VOCABULARY = Vocabulary(ADVERSE_EVENT_ALIASES, ", ".join(ADVERSE_EVENTS))

# How a column's cells are read (analytics/parsers.py holds one parser per name).
_PARSER_OF_KIND = {"text": "text", "date": "date", "number": "number", "integer": "number",
                   "category": "category"}


@dataclass(frozen=True)
class Column:
    """One canonical column: its type, whether it is required, its range and the header names it answers to.

    parser: how its cells are read (the kind's parser unless named: list columns name theirs);
    vocabulary: the accepted values of a category or list column; above_low: the value must be above `low`
    rather than at least `low` (a dose of 0 is no dose).
    """

    name: str
    kind: str  # text, date, number, integer, category, list
    required: bool = False
    low: float | None = None
    high: float | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""
    max_length: int | None = None
    parser: str = ""
    vocabulary: Vocabulary | None = field(default=None, compare=False)
    above_low: bool = False

    def __post_init__(self):
        if not self.parser:
            object.__setattr__(self, "parser", _PARSER_OF_KIND[self.kind])


SESSION_COLUMNS: tuple[Column, ...] = (
    Column("patient_id", "text", True, max_length=64,
           aliases=("patient", "patient id", "pt id", "pt_id", "patient code", "patient number", "pseudonym",
                    "subject", "subject id", "participant id", "record id", "study id", "patient ref"),
           description="Pseudonymous patient code, at most 64 characters; never a name or record number."),
    Column("session_date", "date", True,
           aliases=("date", "date of injection", "injection date", "treatment date", "session date",
                    "visit date", "date of treatment", "appointment date", "procedure date", "date injected"),
           description="Date of the injection session; ISO 2025-03-14 preferred, day- or month-first accepted."),
    Column("session_id", "text",
           aliases=("session", "session id", "visit id", "encounter id", "episode id", "appointment id",
                    "treatment id", "injection id"),
           description="Unique session code; when absent, patient_id + session_date identifies the session."),
    Column("site", "text",
           aliases=("clinic", "location", "site name", "clinic name", "hospital", "centre", "center", "venue"),
           description="Clinic or location."),
    Column("practitioner_id", "text",
           aliases=("practitioner", "injector", "clinician", "doctor", "consultant", "clinician id",
                    "injector id", "practitioner code", "treated by", "physician"),
           description="Pseudonymous code of the injector."),
    Column("indication", "category", vocabulary=INDICATION_VOCABULARY,
           aliases=("diagnosis", "condition", "indication for treatment", "reason"),
           description="cervical_dystonia, neck_pain, tension_headache, upper_back_pain, arm_pain or other."),
    Column("product", "category", True, vocabulary=PRODUCT_VOCABULARY,
           aliases=("toxin", "drug", "brand", "medication", "product name", "botulinum toxin", "agent",
                    "toxin type", "toxin product"),
           description="onabotulinumtoxinA, abobotulinumtoxinA, incobotulinumtoxinA, rimabotulinumtoxinB or "
                       "other; brand names (Botox, Dysport, Xeomin, Myobloc/NeuroBloc) accepted."),
    Column("total_units", "number", True, low=0.0, above_low=True,
           aliases=("units", "dose", "total dose", "total units", "dose units", "total dose units",
                    "units injected", "dose given", "total"),
           description="Total dose in the product's own units, above 0; units are not interchangeable."),
    Column("muscles", "list", parser="muscles",
           aliases=("muscle", "muscles injected", "injection sites", "sites injected", "muscle pattern",
                    "target muscles"),
           description="Items muscle[:units] separated by ; or |, e.g. splenius_capitis:50;trapezius:30."),
    Column("baseline_pain", "integer", low=0, high=10,
           aliases=("pain before", "baseline nrs", "nrs baseline", "pain baseline", "pre pain", "pain pre",
                    "pre injection pain", "pain score before", "baseline pain score", "nrs pre", "pain at baseline"),
           description="Pain NRS 0-10 on the day of injection, before it."),
    Column("followup_pain", "integer", low=0, high=10,
           aliases=("pain after", "follow up pain", "followup nrs", "nrs followup", "nrs follow up", "pain followup",
                    "post pain", "pain post", "review pain", "pain at review", "pain score after", "nrs post"),
           description="Pain NRS 0-10 at the review near peak effect (usually 2-4 weeks)."),
    Column("followup_days", "integer", low=0, high=120,
           aliases=("days to review", "review day", "follow up days", "days to follow up", "review days",
                    "days to followup"),
           description="Days from injection to that review, 0-120."),
    Column("onset_days", "integer", low=0, high=60,
           aliases=("onset", "days to onset", "onset day", "time to onset", "onset days"),
           description="Days until the patient first noticed benefit, 0-60."),
    Column("peak_days", "integer", low=0, high=120,
           aliases=("peak", "days to peak", "peak day", "time to peak", "peak effect days"),
           description="Days until the greatest benefit, 0-120; not before onset_days."),
    Column("wearing_off_days", "integer", low=1, high=365,
           aliases=("wearing off", "wear off days", "days to wearing off", "duration", "benefit duration",
                    "duration days", "wore off after", "days benefit lasted", "wearing off day"),
           description="Days until the benefit wore off, 1-365; blank = not worn off yet, or not recorded."),
    Column("pgic", "integer", low=1, high=7,
           aliases=("global impression", "patient global impression", "pgi c", "pgi"),
           description="Patient global impression of change: 1 very much improved ... 4 no change ... 7 very much worse."),
    Column("baseline_twstrs", "number", low=0, high=87,
           aliases=("twstrs baseline", "twstrs before", "twstrs pre", "baseline twstrs total"),
           description="TWSTRS total 0-87 before the injection; higher is worse."),
    Column("followup_twstrs", "number", low=0, high=87,
           aliases=("twstrs followup", "twstrs follow up", "twstrs after", "twstrs post", "followup twstrs total"),
           description="TWSTRS total 0-87 at the review."),
    Column("adverse_events", "list", parser="events", vocabulary=ADVERSE_EVENT_VOCABULARY,
           aliases=("adverse event", "side effects", "side effect", "ae", "aes", "complications"),
           description="none, injection_site_pain, neck_weakness, dysphagia, flu_like, headache, dry_mouth, "
                       "other; separated by ;."),
    Column("cycle_number", "integer", low=1,
           aliases=("cycle", "treatment cycle", "cycle no", "injection number", "treatment number"),
           description="The patient's lifetime treatment cycle where the clinic counts it, 1 or more."),
)

ASSESSMENT_COLUMNS: tuple[Column, ...] = (
    Column("patient_id", "text", True, max_length=64,
           aliases=SESSION_COLUMNS[0].aliases, description=SESSION_COLUMNS[0].description),
    Column("session_id", "text", aliases=SESSION_COLUMNS[2].aliases,
           description="Links the score to its injection (or use session_date)."),
    Column("session_date", "date", aliases=("injection date", "date of injection", "treatment date"),
           description="Date of the injection the score follows."),
    Column("days_after", "number", low=0, high=400,
           aliases=("day", "days", "days since injection", "days post injection", "days after injection"),
           description="Days since the injection; 0 is the baseline."),
    Column("week", "number", low=0, high=60,
           aliases=("weeks", "week number", "weeks after", "weeks since injection"),
           description="Weeks since the injection (week x 7 = days)."),
    Column("assessment_date", "date", aliases=("score date", "diary date", "date of assessment", "assessed on"),
           description="Date of the score; days_after = assessment_date - session_date."),
    Column("pain", "number", low=0, high=10, aliases=("pain score", "nrs", "pain nrs"),
           description="Pain NRS 0-10."),
    Column("twstrs", "number", low=0, high=87, aliases=("twstrs total", "twstrs score"),
           description="TWSTRS total 0-87."),
    Column("pgic", "integer", low=1, high=7, aliases=SESSION_COLUMNS[15].aliases,
           description=SESSION_COLUMNS[15].description),
)

SESSION_BY_NAME = {c.name: c for c in SESSION_COLUMNS}
ASSESSMENT_BY_NAME = {c.name: c for c in ASSESSMENT_COLUMNS}

# Canonical dtypes of the accepted session table (what every metric reads).
SESSION_DTYPES = {
    "patient_id": "str",
    "session_date": "datetime64[s]",
    "session_id": "str",
    "site": "str",
    "practitioner_id": "str",
    "indication": "str",
    "product": "str",
    "total_units": "float64",
    "muscles": "str",
    "baseline_pain": "Int64",
    "followup_pain": "Int64",
    "followup_days": "Int64",
    "onset_days": "Int64",
    "peak_days": "Int64",
    "wearing_off_days": "Int64",
    "pgic": "Int64",
    "baseline_twstrs": "Float64",
    "followup_twstrs": "Float64",
    "adverse_events": "str",
    "cycle_number": "Int64",
}

# Header words that mark a direct identifier (HIPAA Safe Harbor and the list), matched on the normalised
# header (lower case, letters and digits only, brackets dropped: 'D.O.B.' -> 'dob', 'Post code' -> 'postcode').
# A header that names a canonical column (or one of its aliases: 'site name', 'practitioner') is never matched.
_NAME_OWNERS = ("patient|pt|client|full|first|last|given|family|sur|fore|middle|maiden|christian|preferred|nick|"
                "person|gp|carer|kin|contact|parent|guardian|mother|father|spouse|partner|referrer|referring|"
                "relative|caregiver|birth")
IDENTIFIER_HEADERS: tuple[tuple[str, str], ...] = (
    (r"^ip$|ipaddress|^ipaddr", "an IP address"),
    (r"e?mail", "an e-mail address"),
    (rf"^names?$|^({_NAME_OWNERS})s?names?$|^nameof|^(first|last|given|family|sur|fore|middle|maiden)name"
     r"|^(patient|pt|client)name|surname|forename|^initials?$|^(patient|pt|client)initials|^fullname",
     "a person's name"),
    (r"nextofkin|^nok$|^kin$|^carers?$|caregiver|emergencycontact|^contact(details|person|no|number)$"
     r"|^gp$|^gpdetails$|^gpname", "a named contact (next of kin, carer, GP)"),
    (r"^(dob|dateofbirthdob)$|dob$|^dob|dateofbirth|birthdate|birthday|^born|yearofbirth|placeofbirth|^ageat"
     r"|exactage", "a date of birth"),
    (r"nhs(no|num|number)?$|^nhs", "an NHS number"),
    (r"chinumber|^chi(no|num)?$|communityhealthindex", "a CHI number"),
    (r"address|street|^city$|town$|^county$|^village$|postcode|postalcode|^post(al)?$|^zip|^housenumber"
     r"|^house(name|no)$|^residence", "an address or postcode"),
    (r"phone|mobile|telephone|^tel(no|num|number|ephone)?$|^fax|cellnumber|^cell$|^cellphone|^mob(no)?$",
     "a phone or fax number"),
    (r"^ssn$|socialsecurity|nationalinsurance|^nino$|^ni(no|num|number)$", "a social security number"),
    (r"^mrn$|medicalrecord|hospitalnumber|hospitalno$|^hospno|^(case|chart|record|unit)(number|no)$"
     r"|^hosp(ital)?id$|^patientnumberhospital", "a medical record number"),
    (r"insurance|medicare|medicaid|policynumber|membernumber|^memberid$", "an insurance number"),
    (r"^url$|url$|website|webpage|homepage", "a web address"),
    (r"^photo(s|id|graph|graphs)?$|photograph|^picture$|^image$|headshot|facialimage", "a photograph"),
)


def normalise_header(header: object) -> str:
    """Lower-case a header and drop units in brackets, spaces and punctuation: 'Total dose (U)' -> 'totaldose'."""
    text = str(header).replace("\ufeff", "").strip().lower()
    text = re.sub(r"[\(\[\{][^\)\]\}]*[\)\]\}]", "", text)
    return re.sub(r"[^0-9a-z]", "", text)


def normalise_token(value: str) -> str:
    """Lower-case a vocabulary value and keep only letters and digits: 'Flu-like' -> 'flulike'."""
    return re.sub(r"[^0-9a-z]", "", value.lower())


def alias_table(columns: tuple[Column, ...]) -> dict[str, str]:
    """Normalised header -> canonical name, for every canonical name and alias."""
    table: dict[str, str] = {}
    for column in columns:
        for name in (column.name, *column.aliases):
            table.setdefault(normalise_header(name), column.name)
    return table


SESSION_ALIASES = alias_table(SESSION_COLUMNS)
ASSESSMENT_ALIASES = alias_table(ASSESSMENT_COLUMNS)
