"""What identifying values look like: the shapes of names, dates of birth, NHS/CHI numbers, phones, postcodes,
street addresses, e-mails and web/IP addresses, and the words that make a look-alike safe.

Each shape is one regular expression written so that both Python's `re` and RE2 (pyarrow.compute) accept it:
RE2 finds the few cells worth a look among millions, then Python checks each candidate (the NHS modulus-11
digit, a CHI number's date, a name that is really a muscle or a product). The same shapes serve the whole-cell
checks of a code column (identifiers.py) and the search inside sentences (free_text.py).
"""
from __future__ import annotations

import re
from datetime import date

from .schema import ADVERSE_EVENT_ALIASES, INDICATION_ALIASES, PRODUCT_ALIASES, PRODUCTS

# The tag a redacted finding becomes, by kind (also the kind's name in messages, with its plural).
TAGS = {
    "e-mail": "[e-mail]", "phone": "[phone]", "NHS number": "[NHS number]", "CHI number": "[CHI number]",
    "postcode": "[postcode]", "date of birth": "[date of birth]", "name": "[name]", "address": "[address]",
    "web address": "[web address]", "IP address": "[IP address]", "social security number": "[SSN]",
}
SINGULARS = {
    "e-mail": "e-mail address", "phone": "phone number", "address": "street address",
}
PLURALS = {
    "e-mail": "e-mail addresses", "phone": "phone numbers", "NHS number": "NHS numbers",
    "CHI number": "CHI numbers", "postcode": "postcodes", "date of birth": "dates of birth", "name": "names",
    "address": "street addresses", "web address": "web addresses", "IP address": "IP addresses",
    "social security number": "social security numbers",
}

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE = (r"(?:\d{1,2}[/\-]\d{1,2}[/\-](?:\d{4}|\d{2})|\d{1,2}\.\d{1,2}\.\d{4}|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}"
        rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})")
_DOB_WORDS = r"(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on|\s+in)?|b\.)"
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|MR|MRS|MS|MISS|MX|DR|PROF|mr|mrs|ms|miss|dr|prof)"
_WORD = r"[A-Z][A-Za-z]*(?:['’\-][A-Za-z]+)*"  # a capitalised word: Doe, O'Brien, McDonald, Smith-Jones
_STREETS = (r"street|st|road|rd|avenue|ave|lane|ln|close|drive|way|crescent|court|ct|place|pl|gardens|grove|terrace"
            r"|hill|park|square|sq|mews|row|walk|view|rise|boulevard|blvd|parade|green")

GIVEN_NAMES = frozenset("""
aaron abigail adam adrian agnes aidan aileen alan albert alex alexander alexandra alfie alice alison amanda amber
amelia amy andrea andrew angela anita ann anna anne annie anthony archie arthur ashley audrey barbara barry ben
benjamin beth bethany betty beverley brenda brian bridget bruce callum cameron carl carol caroline carolyn
catherine charles charlie charlotte chloe chris christine christopher claire clare colin connor craig daniel
danielle david dawn dean deborah debra denise dennis derek diana diane donald donna doris dorothy douglas duncan
dylan edward eileen elaine eleanor elizabeth ella ellie emily emma eric ethan evelyn fiona frances francis frank
fraser freya gail gareth gary gavin gemma geoffrey george georgia gerald gillian gordon graham hannah harriet harry
harvey hazel heather helen henry hilary holly howard ian irene isabel isabella isla jack jacqueline jake james
jamie jane janet janice jasmine jason jean jeffrey jennifer jeremy jessica jill joan joanne john jonathan joseph
joshua joyce judith julia julie justin karen kate katherine kathleen katie keith kelly kenneth kevin kieran kirsty
laura lauren leah leo leon leonard lesley leslie lewis liam linda lindsay lisa logan lorna lorraine louis louise
lucy luke lynn lynne malcolm margaret maria marie marion martin mary matthew maureen megan melanie michael michelle
mohammed molly muhammad nancy naomi natalie nathan neil nicholas nicola nigel noah norma norman oliver olivia
oscar owen pamela patricia patrick paul paula pauline peter philip phillip rachel raymond rebecca reece rhys
richard robert robin roger ronald rosemary ross ruby russell ruth ryan sally samantha samuel sandra sarah scott
sean sharon sheila shirley simon sophie stanley stephanie stephen steven stewart stuart susan suzanne sylvia
teresa theresa thomas timothy tina tom tracey tracy trevor valerie vanessa victoria vincent wayne wendy william
yvonne zoe ahmed ali fatima aisha priya sanjay raj deepak anil sunil ravi
""".split())

# kind -> pattern; inside sentences (a word boundary each side). Case-insensitive where the flag says so.
EMBEDDED = {
    "e-mail": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    "web address": r"(?i)(?:https?://|www\.)[^\s<>\"]+",
    "IP address": r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b",
    "date of birth": rf"(?i)\b{_DOB_WORDS}\s*[:\-]?\s*(?:{DATE}|\d{{4}})|\b{DATE}\b",
    "NHS number": r"\b\d{3}[ \-]?\d{3}[ \-]?\d{4}\b",
    "phone": (r"(?:\+\d{1,3}[ \-.]?(?:\(0?\d{1,4}\)[ \-.]?)?\d{1,5}(?:[ \-.]?\d{2,5}){1,4}"
              r"|\(0\d{2,4}\)[ \-]?\d{3,4}[ \-]?\d{3,4}|\b0\d{2,4}[ \-]?\d{3,4}[ \-]?\d{3,4}"
              r"|\(\d{3}\)[ \-]?\d{3}[ \-.]\d{4}|\b\d{3}[\-.]\d{3}[\-.]\d{4})\b"),
    "social security number": r"\b\d{3}-\d{2}-\d{4}\b",
    "postcode": r"(?i)\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b",
    "address": rf"(?i)\b\d{{1,4}}[A-Z]?,?\s+(?:[A-Z][A-Z'\-]*\s+){{1,3}}(?:{_STREETS})\b\.?",
    "name": (rf"\b{_TITLE}\.?\s+(?:[A-Z]\.?\s+)?{_WORD}(?:\s+{_WORD})?"
             rf"|\b(?i:{'|'.join(sorted(GIVEN_NAMES))})\s+(?:[A-Z]\.?\s+)?{_WORD}(?:\s+{_WORD})?"),
}
# Order of search: a span claimed by an earlier kind is not searched again (an e-mail's digits are no phone).
ORDER = ("e-mail", "web address", "IP address", "date of birth", "NHS number", "social security number", "phone",
         "address", "postcode", "name")
COMPILED = {kind: re.compile(pattern) for kind, pattern in EMBEDDED.items()}

# A whole cell that is a personal name: two or three capitalised words (an initial or a title may stand in),
# or 'Surname, Forename'; all capitals count when a word is a known given name (checked in Python).
WHOLE_NAME = (rf"^\s*(?:{_TITLE}\.?\s+)?[A-Za-z][A-Za-z'’\-]*\.?(?:,?\s+[A-Za-z][A-Za-z'’\-]*\.?){{1,3}}\s*$")
WHOLE_NAME_RE = re.compile(WHOLE_NAME)



_MUSCLE_WORDS = """
splenius capitis cervicis levator scapulae trapezius sternocleidomastoid semispinalis scalene scalenes scalenus
anterior posterior medius longissimus obliquus inferior superior masseter temporalis frontalis corrugator procerus
orbicularis oculi oris platysma depressor anguli mentalis rhomboid rhomboids infraspinatus supraspinatus deltoid
biceps triceps brachii brachialis brachioradialis flexor extensor carpi radialis ulnaris digitorum pollicis longus
brevis profundus superficialis pronator teres quadratus gastrocnemius soleus tibialis hamstring hamstrings
adductor adductors magnus gracilis rectus femoris colli major minor latissimus dorsi pectoralis serratus
paraspinal paraspinals erector spinae multifidus iliopsoas piriformis upper lower middle left right bilateral
sternocleido mastoid cleido occipital suboccipital
"""
_CLINICAL_WORDS = """
botulinum toxin toxina toxinb units unit dose doses clinic clinics hospital infirmary centre center ward wing
north south east west central main new old general royal community health trust practice surgery suite room
block floor building site sites day days week weeks month months year years review follow followup up injection
injections injected inject emg guided ultrasound us guidance booster top pain neck back headache arm shoulder
dystonia cervical torticollis spasm spasms tension migraine chronic acute patient patients pt client clients
staff nurse doctor consultant physio physiotherapy neurology neurologist gp referral self source active placebo
drug arm control group trial study baseline visit session sessions cycle note notes comment comments plan
improved improving worse better same stable good poor excellent fair mild moderate severe none nil other no yes
not recorded unknown na treatment treated saw seen reviewed called phoned letter sent clinical outpatient
outpatients inpatient department dept service services team unit annex annexe house lodge medical nursing
centre theatre theatres satellite mobile virtual telephone video face private nhs high low standard extra
january february march april may june july august september october november december monday tuesday wednesday
thursday friday saturday sunday today tomorrow yesterday morning afternoon evening side effect effects weakness
dysphagia flu like dry mouth mg ml u iu vial vials diluted dilution saline reconstituted batch lot expiry
"""
STOP_WORDS = frozenset(
    _MUSCLE_WORDS.split() + _CLINICAL_WORDS.split()
    + [w.lower() for w in PRODUCTS] + list(PRODUCT_ALIASES) + list(INDICATION_ALIASES) + list(ADVERSE_EVENT_ALIASES)
    + ["dr", "mr", "mrs", "ms", "miss", "prof", "dob", "nhs", "chi", "tel", "mob", "email", "e-mail", "phone"])

_NAME_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame"}


def _words(text: str) -> list[str]:
    return _NAME_TOKEN.findall(text)


def is_name(text: str, strict: bool = False) -> bool:
    """True when a whole cell (or a found span) reads as a personal name, not a product, muscle, site or code.

    Two or three words, none a clinical, muscle, product or site word; capitalised (or all capitals with a known
    given name). strict: a known given name or a title is also needed (for columns other than codes).
    """
    words = _words(text)
    titled = bool(words) and words[0].lower() in _TITLES
    body = words[1:] if titled else words
    if not 1 <= len(body) <= 3 or (len(body) == 1 and not titled):
        return False
    if any(w.lower().strip("'’-") in STOP_WORDS for w in body):
        return False
    given = any(w.lower() in GIVEN_NAMES for w in body)
    shaped = all(w[0].isupper() for w in body)
    if shaped and all(w.isupper() for w in body if len(w) > 1) and not (given or titled):
        return False  # 'NORTH WING', 'EMG', an acronym: only with a known given name or a title
    if not shaped:
        return False
    return given or titled if strict else True


def nhs_check(digits: str) -> bool:
    """The NHS number's modulus-11 check on ten digits."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def chi_check(digits: str) -> bool:
    """A Scottish CHI number: ten digits that start with a valid date of birth DDMMYY."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    day, month, year = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    for century in (1900, 2000):
        try:
            date(century + year, month, day)
            return True
        except ValueError:
            continue
    return False


_YEAR = re.compile(r"(?<!\d)(\d{4}|\d{2})(?!\d)")
_DOB_WORD_RE = re.compile(rf"(?i)^\s*{_DOB_WORDS}")


def date_year(text: str) -> int | None:
    """The four-digit year of a written date (two-digit years read as 19xx/20xx nearest the past), or None."""
    years = [y for y in _YEAR.findall(text)]
    if not years:
        return None
    four = [int(y) for y in years if len(y) == 4]
    if four:
        return four[0]
    two = int(years[-1])
    return 2000 + two if 2000 + two <= date.today().year else 1900 + two


def accept(kind: str, span: str, cutoff_year: int) -> bool:
    """Python's check of one candidate span the pattern found (the part RE2 cannot say)."""
    digits = re.sub(r"\D", "", span)
    if kind == "NHS number":
        return nhs_check(digits) or chi_check(digits)
    if kind == "phone":
        return 9 <= len(digits) <= 15
    if kind == "IP address":
        return all(int(p) <= 255 for p in span.split("."))
    if kind == "date of birth":
        if _DOB_WORD_RE.match(span):
            return True
        year = date_year(span)
        return year is not None and 1900 <= year <= cutoff_year
    if kind == "postcode":
        inward = span.replace(" ", "")[-3:].upper()
        if inward[1:].lower() in ("st", "nd", "rd", "th") or any(c in "CIKMOV" for c in inward[1:]):
            return False
        return span.isupper() or span.islower() or span[:2].isupper()
    if kind == "address":
        words = _words(span)
        street = words[-1].lower()
        body = words[:-1]
        if any(w.lower() in STOP_WORDS and w.lower() not in ("park", "green", "hill", "main", "new", "old", "north",
                                                              "south", "east", "west", "high", "royal")
               for w in body):
            return False
        if street in ("street", "road", "avenue", "lane", "close", "drive", "crescent", "terrace", "gardens",
                      "grove", "mews", "boulevard", "parade"):
            return True
        return all(w[0].isupper() for w in words)
    if kind == "name":
        return name_span(span) == span
    return True


_TITLED = re.compile(rf"^{_TITLE}\.?\s")


def name_span(span: str) -> str | None:
    """The longest start of a found span that reads as a name ('Mrs Jane Doe Botox' -> 'Mrs Jane Doe'), or None.

    A titled name needs no known given name; an untitled one starts with one (the pattern sees to it)."""
    strict = not _TITLED.match(span)
    parts = span.split()
    for n in range(len(parts), 1, -1):
        candidate = " ".join(parts[:n])
        if is_name(candidate, strict=strict):
            return span[:_end_of_words(span, n)]
    return None


def _end_of_words(text: str, n: int) -> int:
    """Where the n-th whitespace-separated word of text ends."""
    return [m.end() for m in re.finditer(r"\S+", text)][n - 1]


def default_cutoff_year(session_year: int | None = None) -> int:
    """The latest year a date of birth can have: 18 years before the earliest session (else before today)."""
    return (session_year or date.today().year) - 18


def mask(value: str, kind: str) -> str:
    """A masked form to show instead of a found value: 'j•••@example.com', '0770• ••••••', 'J••• D••'."""
    value = value.strip()
    if kind == "e-mail" and "@" in value:
        local, domain = value.split("@", 1)
        return f"{local[:1]}\u2022\u2022\u2022@{domain}"
    if kind == "name":
        return " ".join(w[:1] + "\u2022" * 3 for w in value.split())
    keep = max(1, len(value) // 3)
    return value[:keep] + "".join(c if c in " -/." else "\u2022" for c in value[keep:])
