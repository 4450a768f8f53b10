"""The actors gazetteer: data completeness, ambiguous names, matching rules, dyads, bad files."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from tensiond.classify.actors import (
    Actor,
    Gazetteer,
    GazetteerError,
    default_gazetteer_path,
    dyads,
)
from tensiond.exceptions import ConfigError

UN_TEXT = """
AF AL DZ AD AO AG AR AM AU AT AZ BS BH BD BB BY BE BZ BJ BT BO BA BW BR BN BG BF BI CV KH CM CA
CF TD CL CN CO KM CG CR CI HR CU CY CZ KP CD DK DJ DM DO EC EG SV GQ ER EE SZ ET FJ FI FR GA GM GE
DE GH GR GD GT GN GW GY HT HN HU IS IN ID IR IQ IE IL IT JM JP JO KZ KE KI KW KG LA LV LB LS LR LY
LI LT LU MG MW MY MV ML MT MH MR MU MX FM MC MN ME MA MZ MM NA NR NP NL NZ NI NE NG MK NO OM PK PW
PA PG PY PE PH PL PT QA KR MD RO RU RW KN LC VC WS SM ST SA SN RS SC SL SG SK SI SB SO ZA SS ES LK
SD SR SE CH SY TJ TH TL TG TO TT TN TR TM TV UG UA AE GB TZ US UY UZ VU VE VN YE ZM ZW
"""
UN_MEMBERS = UN_TEXT.split()
OBSERVERS_AND_OTHERS = ["TW", "XK", "PS", "EH", "VA"]
REGIONS = {
    "north_america", "latin_america", "caribbean", "western_europe", "eastern_europe",
    "nordic_baltic", "balkans", "caucasus", "central_asia", "russia", "middle_east", "gulf",
    "north_africa", "west_africa", "sahel", "central_africa", "east_africa", "horn_of_africa",
    "southern_africa", "south_asia", "east_asia", "southeast_asia", "oceania",
}  # fmt: skip


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load(default_gazetteer_path())


# ------------------------------------------------------------------ the data


def test_default_path_is_the_repository_config() -> None:
    path = default_gazetteer_path()
    assert path.name == "actors.yaml"
    assert path.parent.name == "config"


def test_un_list_is_complete_and_distinct() -> None:
    assert len(set(UN_MEMBERS)) == len(UN_MEMBERS) == 193


@pytest.mark.parametrize("code", UN_MEMBERS + OBSERVERS_AND_OTHERS)
def test_every_state_is_present_with_a_region(gazetteer: Gazetteer, code: str) -> None:
    actor = gazetteer.actor(code)
    assert actor.kind == "country"
    assert actor.country == code
    assert actor.region in REGIONS
    assert actor.name
    assert gazetteer.actors(actor.name) == (code,), f"{actor.name} should find {code}"


def test_every_entry_loads_with_a_name_and_a_known_kind(gazetteer: Gazetteer) -> None:
    kinds = {"country", "intergovernmental", "armed_group", "court", "other"}
    countries = [c for c in gazetteer.codes() if gazetteer.actor(c).kind == "country"]
    organisations = [c for c in gazetteer.codes() if gazetteer.actor(c).kind != "country"]
    assert len(countries) == 198
    assert len(organisations) >= 60
    for code in gazetteer.codes():
        actor = gazetteer.actor(code)
        assert actor.name and actor.kind in kinds
        assert actor.region is None or actor.region in REGIONS
    assert gazetteer.surface_count > 2000


@pytest.mark.parametrize(
    ("code", "kind", "country", "region"),
    [
        ("HAMAS", "armed_group", "PS", "middle_east"),
        ("HEZBOLLAH", "armed_group", "LB", "middle_east"),
        ("HOUTHIS", "armed_group", "YE", "middle_east"),
        ("RSF", "armed_group", "SD", "horn_of_africa"),
        ("M23", "armed_group", "CD", "central_africa"),
        ("TALIBAN", "armed_group", "AF", "south_asia"),
        ("ISIS", "armed_group", None, None),
        ("NATO", "intergovernmental", None, None),
        ("AFRICAN_UNION", "intergovernmental", None, None),
        ("ICC", "court", None, None),
    ],
)
def test_organisations(
    gazetteer: Gazetteer, code: str, kind: str, country: str | None, region: str | None
) -> None:
    assert gazetteer.actor(code) == Actor(code, gazetteer.name(code), region, kind, country)
    assert gazetteer.region(code) == region


def test_lookups_of_unknown_codes(gazetteer: Gazetteer) -> None:
    assert "KP" in gazetteer and "ZZ" not in gazetteer and 3 not in gazetteer
    assert gazetteer.name("ZZ") == "ZZ"
    assert gazetteer.region("ZZ") is None
    with pytest.raises(KeyError, match="ZZ"):
        gazetteer.actor("ZZ")


# ------------------------------------------------------------------ matching

CASES = [
    # longest match and word boundaries
    ("niger-vs-nigeria", "Niger and Nigeria sign a border pact", ("NE", "NG")),
    ("nigerien-vs-nigerian", "Nigerien and Nigerian troops", ("NE", "NG")),
    (
        "guinea-family",
        "Guinea, Guinea-Bissau, Equatorial Guinea and Papua New Guinea",
        ("GN", "GW", "GQ", "PG"),
    ),
    ("gulf-of-guinea-is-no-state", "Pirates board a tanker in the Gulf of Guinea", ()),
    ("sudan-vs-south-sudan", "South Sudan accuses Sudan of backing rebels", ("SS", "SD")),
    ("dominica-vs-dominican-republic", "Dominica and the Dominican Republic", ("DM", "DO")),
    ("northern-ireland-is-uk", "Northern Ireland border talks with Ireland", ("GB", "IE")),
    ("mali-somalia-boundaries", "Mali and Somalia", ("ML", "SO")),
    ("oman-romania-boundaries", "Romania and Oman", ("RO", "OM")),
    ("india-not-indiana", "Indiana governor visits India", ("IN",)),
    ("israel-and-israeli", "Israeli jets strike as Israel warns", ("IL",)),
    ("iran-and-iranian", "Iranian drones; Iran denies", ("IR",)),
    (
        "congo-drc-long-form",
        "Democratic Republic of the Congo and Republic of the Congo",
        ("CD", "CG"),
    ),
    # demonyms, plural forms included
    ("demonym-plural", "Ukrainians and Filipinos protest", ("UA", "PH")),
    ("demonym-chinese", "Chinese coast guard vessels", ("CN",)),
    ("demonym-south-sudanese", "South Sudanese refugees", ("SS",)),
    ("demonym-americans", "Two Americans detained", ("US",)),
    # capitals and state bodies as metonyms
    ("capital-metonyms", "Pyongyang said Seoul and Tokyo were provoking it", ("KP", "KR", "JP")),
    ("kremlin-and-white-house", "The Kremlin rejected a White House proposal", ("RU", "US")),
    ("kyiv-and-kiev", "Kiev, now spelled Kyiv", ("UA",)),
    (
        "more-capitals",
        "Beijing, Tehran, Ankara, Riyadh and Caracas",
        ("CN", "IR", "TR", "SA", "VE"),
    ),
    ("delhi", "Delhi and New Delhi", ("IN",)),
    ("leaders", "Putin, Zelensky, Xi Jinping and Netanyahu", ("RU", "UA", "CN", "IL")),
    ("state-media", "KCNA and Xinhua reported", ("KP", "CN")),
    ("surnames-with-titles", "President Putin and Mr Zelensky", ("RU", "UA")),
    ("possessive-before-leader", "Russia's Putin and Iran's Khamenei", ("RU", "IR")),
    ("other-person-with-leader-surname", "Oscar Pistorius and Daniil Medvedev", ()),
    # spelling variants
    ("turkiye-and-folded", "Türkiye, Turkiye and Erdogan", ("TR",)),
    ("curly-apostrophe", "Côte d’Ivoire and Cote d'Ivoire", ("CI",)),
    # organisations with a base country stay themselves
    (
        "org-with-country",
        "Hamas and Hezbollah fire rockets at Israel",
        ("HAMAS", "HEZBOLLAH", "IL"),
    ),
    ("org-alias", "Ansar Allah, Daesh and al-Shabaab", ("HOUTHIS", "ISIS", "AL_SHABAAB")),
    ("org-leader", "Hemedti's fighters and Nasrallah", ("RSF", "HEZBOLLAH")),
    (
        "pakistani-taliban-is-ttp",
        "The Pakistani Taliban and the Afghan Taliban",
        ("TTP", "TALIBAN"),
    ),
]

AMBIGUOUS = [
    # Georgia: the country unless US-state cues are near, and cue-less Georgia elsewhere wins back
    ("georgia-country", "Georgia recalls its ambassador over Abkhazia", ("GE",)),
    ("georgia-us-cue", "Georgia voters in Atlanta line up for the primary", ()),
    ("georgia-us-phrase", "Georgia Tech beats Georgia State", ()),
    ("georgia-governor", "Georgia's governor signs a bill", ()),
    ("georgia-near-us-states", "Storms hit Alabama and Georgia", ()),
    (
        "georgia-restored-by-tbilisi",
        "Georgia: Tbilisi protests as Florida investors watch",
        ("GE",),
    ),
    # Jordan and Chad the people
    ("jordan-country", "Jordan condemns the strike", ("JO",)),
    ("jordan-michael", "Michael Jordan retires again", ()),
    ("jordan-surname-after", "Jordan Henderson signs for Ajax", ()),
    ("jordan-peterson", "Jordan Peterson gives a talk", ()),
    ("jordan-possessive", "Jordan's King Abdullah met Netanyahu", ("JO", "IL")),
    ("jordan-title-case", "Jordan Condemns Israeli Strike On Gaza", ("JO", "IL", "PS")),
    ("chad-country", "Chad expels French troops", ("TD", "FR")),
    ("chad-person", "Chad Smith joins the band", ()),
    # Turkey the bird
    ("turkey-country", "Turkey closes its airspace", ("TR",)),
    ("turkey-bird", "We roasted a turkey for dinner", ()),
    ("thanksgiving-turkey", "The Thanksgiving turkey was dry", ()),
    # Congo alone
    ("congo-defaults-to-drc", "Fighting in eastern Congo", ("CD",)),
    ("congo-near-brazzaville", "Congo votes; Brazzaville calm", ("CG",)),
    ("congo-brazzaville", "Congo-Brazzaville holds elections", ("CG",)),
    # Korea
    ("bare-korea-is-south", "Korea and Japan hold talks", ("KR", "JP")),
    ("north-korea", "North Korea and South Korea", ("KP", "KR")),
    ("korean-peninsula", "Tension on the Korean Peninsula", ()),
    # America
    ("america", "America First policy; America warns", ("US",)),
    ("latin-america", "Latin America and South America summits", ()),
    ("latin-americans", "Latin Americans and Americans", ("US",)),
    # Washington, US
    ("washington", "Washington imposes sanctions", ("US",)),
    ("washington-state", "Washington state wildfires", ()),
    ("university-of-washington", "University of Washington researchers", ()),
    ("george-washington", "George Washington's teeth", ()),
    ("us-uppercase-only", "Let us hope the US agrees", ("US",)),
    ("uk-and-uae", "The UK and UAE sign a deal", ("GB", "AE")),
    # Paris and London
    ("paris", "Paris summons the ambassador", ("FR",)),
    ("paris-hilton", "Paris Hilton and Paris Saint-Germain", ()),
    ("paris-agreement", "Leaving the Paris Agreement", ()),
    ("london", "London and Moscow trade barbs", ("GB", "RU")),
    # single-surface special cases
    ("niger-state-is-nigeria", "Gunmen attack villages in Niger State", ("NG",)),
    ("inner-mongolia-is-china", "Mine collapse in Inner Mongolia", ("CN",)),
    ("east-palestine-ohio", "Train derails in East Palestine", ()),
    ("who-org", "WHO declares an emergency", ("WHO",)),
    ("icc-cricket", "ICC fines the captain after the Test match", ()),
    ("icc-court", "ICC issues arrest warrant for Putin", ("ICC", "RU")),
    ("rsf-press-freedom", "RSF ranks press freedom in 180 countries", ()),
    ("rsf-sudan", "RSF fighters shell El Fasher", ("RSF", "SD")),
]

HEADLINES = [
    ("all-caps", "NORTH KOREA FIRES MISSILE", ("KP",)),
    ("all-caps-then-lede", "NORTH KOREA FIRES MISSILE. Seoul says it landed at sea", ("KP", "KR")),
    ("all-caps-us", "US AND CHINA AGREE TO TALKS", ("US", "CN")),
    ("all-caps-abbrev", "N.KOREA TESTS ICBM - YONHAP", ("KP",)),
    ("all-caps-who-is-a-word", "WHO IS BEHIND THE ATTACK IN MALI", ("ML",)),
    ("all-caps-folded", "TURKIYE AND COTE D'IVOIRE", ("TR", "CI")),
    ("title-case", "Turkey Says Russia Must Withdraw", ("TR", "RU")),
    ("whole-text-caps", "NORTH KOREA", ("KP",)),
    ("two-acronyms-in-prose-are-not-a-headline", "the UN OCHA and WHO teams", ("UN", "WHO")),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(text, expected, id=name)
        for name, text, expected in CASES + AMBIGUOUS + HEADLINES
    ],
)
def test_actors(gazetteer: Gazetteer, text: str, expected: tuple[str, ...]) -> None:
    assert gazetteer.actors(text) == expected


@pytest.mark.parametrize(
    ("text", "surfaces"),
    [
        pytest.param("Papua New Guinea", ["Papua New Guinea"], id="one-long-surface"),
        pytest.param("Guinea-Bissau's army", ["Guinea-Bissau"], id="hyphenated"),
        pytest.param("US-China talks", ["US", "China"], id="hyphen-joins-two"),
        pytest.param("Kim Jong Un and KCNA", ["Kim Jong Un", "KCNA"], id="leader-and-media"),
        pytest.param("Michael Jordan and Jordan", ["Jordan"], id="blocker-swallows"),
    ],
)
def test_find_reports_longest_surfaces_in_order(
    gazetteer: Gazetteer, text: str, surfaces: list[str]
) -> None:
    mentions = gazetteer.find(text)
    assert [m.surface for m in mentions] == surfaces
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.surface
    assert all(a.end <= b.start for a, b in itertools.pairwise(mentions))


def test_find_is_fast_enough(gazetteer: Gazetteer) -> None:
    text = "Russia and Ukraine traded strikes as Washington and Beijing talked in Doha. " * 8
    started = time.perf_counter()
    for _ in range(500):
        gazetteer.actors(text)
    assert time.perf_counter() - started < 5.0


# ------------------------------------------------------------------ dyads


@pytest.mark.parametrize(
    ("actors", "expected"),
    [
        pytest.param((), (), id="none"),
        pytest.param(("KP",), (), id="one"),
        pytest.param(("US", "CN", "TW"), ("CN-TW", "CN-US", "TW-US"), id="sorted-pairs"),
        pytest.param(("TW", "CN", "TW", "CN"), ("CN-TW",), id="repeats-ignored"),
        pytest.param(("HAMAS", "IL"), ("HAMAS-IL",), id="organisations"),
        pytest.param(tuple("ABCDEFG"), ("A-B", "A-C", "A-D", "A-E", "B-C", "B-D", "B-E", "C-D",
                                        "C-E", "D-E"), id="capped-at-ten-first-actors-win"),
    ],
)  # fmt: skip
def test_dyads(actors: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert dyads(actors) == expected


# ------------------------------------------------------------------ bad files

VALID = """
regions: [east_asia]
countries:
  KP:
    name: North Korea
    region: east_asia
    aliases: [DPRK]
organisations:
  UN:
    name: United Nations
    kind: intergovernmental
"""


@pytest.mark.parametrize(
    ("replace", "by", "problem"),
    [
        pytest.param("region: east_asia", "region: asia", "countries.KP.region", id="bad-region"),
        pytest.param("aliases: [DPRK]", "aliases: DPRK", "countries.KP.aliases", id="not-a-list"),
        pytest.param("aliases: [DPRK]", "alias: [DPRK]", "countries.KP.alias: unknown field",
                     id="typo-field"),
        pytest.param("  KP:", "  kp:", "countries.kp", id="lower-case-code"),
        pytest.param("  KP:", "  NO:", "countries.False", id="unquoted-norway-is-a-boolean"),
        pytest.param("kind: intergovernmental", "kind: alliance", "organisations.UN.kind",
                     id="bad-kind"),
        pytest.param("kind: intergovernmental", "kind: armed_group\n    country: ZZ",
                     "organisations.UN.country", id="unknown-org-country"),
        pytest.param("aliases: [DPRK]", "aliases: [DPRK, United Nations]",
                     "organisations.UN: surface 'United Nations' is already claimed by"
                     " countries.KP",
                     id="surface-claimed-twice"),
        pytest.param("aliases: [DPRK]", "aliases: [DPRK]\n    ambiguous:\n      - surface: Korea",
                     "countries.KP.ambiguous[Korea]: surface is not among",
                     id="rule-unknown-surface"),
        pytest.param("aliases: [DPRK]",
                     "aliases: [DPRK]\n    ambiguous:\n      - surface: DPRK\n        not: [Korea]",
                     "countries.KP.ambiguous[DPRK].not", id="blocker-must-contain-surface"),
        pytest.param("  UN:", "  KP:", "organisations.KP: id collides", id="org-id-collides"),
        pytest.param("countries:", "countries: [", "cannot read", id="yaml-syntax-error"),
    ],
)  # fmt: skip
def test_malformed_file_names_the_file_and_the_entry(
    tmp_path: Path, replace: str, by: str, problem: str
) -> None:
    path = tmp_path / "actors.yaml"
    path.write_text(VALID.replace(replace, by, 1), encoding="utf-8")
    with pytest.raises(GazetteerError) as raised:
        Gazetteer.load(path)
    assert str(path) in str(raised.value)
    assert problem in str(raised.value)
    assert isinstance(raised.value, ConfigError) and isinstance(raised.value, ValueError)


def test_valid_minimal_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "actors.yaml"
    path.write_text(VALID, encoding="utf-8")
    gazetteer = Gazetteer.load(path)
    assert gazetteer.codes() == ("KP", "UN")
    assert gazetteer.actors("DPRK and the United Nations") == ("KP", "UN")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GazetteerError, match="cannot read"):
        Gazetteer.load(tmp_path / "nope.yaml")
