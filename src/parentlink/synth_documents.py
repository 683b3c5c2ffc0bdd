"""Generate the SYNTHETIC document-analysis corpus of the embedded study.

Everything this module writes is SYNTHETIC DATA: invented documents by fictional organisations,
coded by two fictional coders. It imitates the design of the real study's document analysis
(national government, local authority and data analytics company documents on linking family
records to identify families for intervention, coded with a Bacchi-style problem/solution
codebook) so that the documents stage has realistic work to do. No sentence is quoted from a
real publication and no organisation named here exists.

Outputs (in ``--out``):

* ``document_codes.qdpx`` -- a REFI-QDA project (zip of ``project.qde`` in namespace
  ``urn:QDA-XML:project:1.0`` plus ``Sources/<guid>.txt``), as a QDA package would export it.
* ``document_codes.csv`` -- the same coded segments as a flat table
  (``document, type, organisation, year, coder, code, start, end, quote``; ``code`` is the code
  path, parent names joined by ``/``).

The generator is deterministic: one seed gives byte-identical files (GUIDs are uuid5 of the seed
and a key, zip entries carry a fixed timestamp).

Usage: ``python -m parentlink.synth_documents --seed 20210601 --out raw/``
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

NS = "urn:QDA-XML:project:1.0"
ZIP_DATE = (2021, 6, 1, 0, 0, 0)
CREATED = "2021-06-01T00:00:00Z"
DOC_TYPES = ("national_government", "local_authority", "company")
TYPE_PREFIX = {"national_government": "NG", "local_authority": "LA", "company": "CO"}
COUNTS = {"national_government": 18, "local_authority": 24, "company": 18}
CODERS = ("Coder A", "Coder B")
DOUBLE_CODED_SHARE = 0.2

PROBLEM = "Problem constructions"
SOLUTION = "Solution rationales"
CONCERN = "Concerns"

# The codebook of the real study (Edwards, Gillies & Gorin 2021); only leaves are codable.
CODEBOOK: dict[str, dict[str, list[str]] | list[str]] = {
    PROBLEM: [
        "Transmitted deprivation",
        "Anti-social behaviour",
        "Families as a costly burden",
        "Hidden risk",
    ],
    SOLUTION: {
        "Superior knowledge": [
            "Objective and accurate",
            "Holistic view",
            "Profiling hidden risk",
            "Cross-service integration",
        ],
        "Harnessing time": ["Early warning", "Real-time data", "Foresight and prediction"],
        "Economic efficiency": [
            "Knowing what families cost",
            "Allocating and withdrawing resources",
            "Government returns and payment by results",
        ],
    },
    CONCERN: [
        "Errors and bias in records",
        "Racial and gender profiling",
        "Poverty read as risk",
        "Low predictive success",
    ],
}

ORGS = {
    "national_government": [
        "Department for Family Outcomes",
        "Office for Joined-Up Public Data",
        "Ministry of Community Resilience",
        "Early Intervention Delivery Unit",
    ],
    "local_authority": [
        "Northmere Borough Council",
        "Eastbrook County Council",
        "Wexcombe City Council",
        "Holtbridge Metropolitan Borough Council",
        "Saltmarsh Vale District Council",
        "Ardley Cross Borough Council",
        "Fenwold County Council",
        "Kelbury City Council",
    ],
    "company": [
        "Quillfen Analytics Ltd",
        "Brightmoor Data Ltd",
        "Omnivant Insight Ltd",
        "Tessellate Civic Systems Ltd",
        "Harrowfield Predictive Ltd",
    ],
}

TITLES = {
    "national_government": [
        "Joining up data for families",
        "Improving outcomes for families with multiple problems",
        "Early intervention: the next steps",
        "Data sharing to support families: statement to Parliament",
        "Family outcomes programme: financial framework",
        "Using data to transform services for families",
    ],
    "local_authority": [
        "Early Help Data Strategy",
        "Family Intelligence Hub: business case",
        "Supporting Families programme annual report",
        "Report to Cabinet: predictive analytics pilot",
        "Children's Services Data Integration Plan",
        "Early Help Outcomes Plan",
    ],
    "company": [
        "Family insight platform",
        "Predictive analytics for children's services",
        "Case study: early help transformation",
        "Single view of the family",
        "Payment by results made simple",
        "Data integration for local government",
    ],
}

# Sentence templates per leaf code and voice ("public" for government, "company" for vendors).
# Placeholders: {actor} (the Department/the Council), {org}, {area}, {cost}, {n}.
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "Transmitted deprivation": {
        "public": [
            "Too many children grow up in households where worklessness, poor school attendance "
            "and poor health have been passed down from one generation to the next.",
            "Disadvantage in these families is often entrenched, with parents repeating the "
            "patterns they experienced in their own childhoods.",
            "Breaking the intergenerational cycle of deprivation remains at the heart of "
            "{actor}'s approach to family support.",
        ],
        "company": [
            "Our analysis shows how disadvantage clusters across generations within the same "
            "households, so you can see where cycles need to be broken.",
            "Multi-generational patterns of need become visible when the records of parents and "
            "children are matched together.",
        ],
    },
    "Anti-social behaviour": {
        "public": [
            "A small number of families account for a large share of anti-social behaviour, "
            "youth offending and police call-outs in {area}.",
            "Persistent anti-social behaviour by young people from the same households continues "
            "to blight neighbourhoods and erode community confidence.",
            "Families involved in crime and anti-social behaviour were among the first to be "
            "identified for the programme.",
        ],
        "company": [
            "Link police incident data with school exclusions to pinpoint the households driving "
            "anti-social behaviour in your area.",
            "Our dashboards flag young people at risk of anti-social behaviour before it "
            "escalates into offending.",
        ],
    },
    "Families as a costly burden": {
        "public": [
            "It is estimated that these families cost the public purse around {cost} a year, "
            "much of it spent reacting to problems rather than preventing them.",
            "Each of these families can cost local services tens of thousands of pounds every "
            "year through repeated and uncoordinated interventions.",
            "With budgets under sustained pressure, {actor} cannot continue to meet the rising "
            "cost of high-need families through acute services alone.",
        ],
        "company": [
            "High-need families consume a disproportionate share of council budgets, and our "
            "platform shows you exactly where that spend is going.",
            "A handful of households can account for millions of pounds in reactive public "
            "spending every year.",
        ],
    },
    "Hidden risk": {
        "public": [
            "Some of the most vulnerable children remain invisible to services until a crisis "
            "brings them to our attention.",
            "Risks to children are often hidden in information held separately by different "
            "agencies, with no single service seeing the whole picture.",
            "Reviews have repeatedly found that warning signs were known to individual agencies "
            "but were never brought together.",
        ],
        "company": [
            "Vulnerable families are hiding in plain sight in the data your authority already "
            "holds.",
            "Risk is rarely visible in a single dataset; it emerges only when records from across "
            "services are combined.",
        ],
    },
    "Objective and accurate": {
        "public": [
            "Better use of data will give practitioners a more accurate and objective basis for "
            "their decisions about families.",
            "Data-driven assessment helps to ensure that decisions about families are consistent "
            "and evidence-based.",
        ],
        "company": [
            "Our algorithms replace guesswork with objective, evidence-based assessments of need.",
            "{org} delivers accurate, consistent risk scores that remove subjectivity from "
            "difficult decisions.",
            "Decisions are backed by robust data rather than by individual professional judgement "
            "alone.",
        ],
    },
    "Holistic view": {
        "public": [
            "A single view of the family will allow workers to understand the full range of "
            "issues a household faces.",
            "Bringing records together gives a holistic picture of each family rather than a "
            "series of disconnected snapshots.",
        ],
        "company": [
            "See the whole family in one place with a single view that brings together every "
            "record held about each household.",
            "Our family-centred data model gives your teams a 360-degree view of every child and "
            "adult in the household.",
        ],
    },
    "Profiling hidden risk": {
        "public": [
            "Matching data against the programme criteria allows {actor} to identify families "
            "who would otherwise go unnoticed.",
            "Risk profiling will be used to find families with multiple needs who are not "
            "currently in contact with any service.",
        ],
        "company": [
            "Our profiling engine identifies families who share the characteristics of those "
            "already known to children's social care.",
            "Using more than {n} indicators, the model surfaces households with hidden risks who "
            "are not yet known to services.",
        ],
    },
    "Cross-service integration": {
        "public": [
            "Partners across health, police, schools and housing have signed a data-sharing "
            "agreement to support joined-up working.",
            "Integrating data across services is essential if agencies are to work together "
            "effectively around the family.",
        ],
        "company": [
            "Securely connect social care, education, health, housing and police data in a "
            "single integrated platform.",
            "Our data-sharing hub breaks down silos so that every agency works from the same "
            "information.",
        ],
    },
    "Early warning": {
        "public": [
            "An early warning system will help identify families at the first signs of "
            "difficulty, before problems become entrenched.",
            "Early identification through data means that help can be offered sooner and at "
            "lower intensity.",
        ],
        "company": [
            "Automated alerts warn practitioners as soon as a family's circumstances start to "
            "deteriorate.",
            "Our early warning system flags emerging needs weeks before a referral would "
            "normally be made.",
        ],
    },
    "Real-time data": {
        "public": [
            "Moving from annual data returns to near real-time information will allow services "
            "to respond as needs arise.",
            "Data will be refreshed monthly so that lead professionals have up-to-date "
            "information about each family.",
        ],
        "company": [
            "Live data feeds update every family profile overnight, so your teams always work "
            "from current information.",
            "Real-time dashboards show changes in attendance, police contacts and housing status "
            "as they happen.",
        ],
    },
    "Foresight and prediction": {
        "public": [
            "Predictive analytics offers the potential to anticipate which families are likely "
            "to need support in future.",
            "Modelling future demand will help {actor} plan services ahead of need rather than "
            "reacting to crises.",
        ],
        "company": [
            "Predictive models forecast which children are most likely to enter care in the next "
            "twelve months.",
            "Our machine learning tools predict future demand so that you can plan ahead with "
            "confidence.",
        ],
    },
    "Knowing what families cost": {
        "public": [
            "A cost-benefit model has been used to estimate the fiscal cost of each family to "
            "local services.",
            "Tracking service use will allow {actor} to understand what families cost before and "
            "after intervention.",
        ],
        "company": [
            "Our cost calculator shows the full cost of each family to the public purse, broken "
            "down by service.",
            "Understand exactly what each household costs your council, and what savings "
            "intervention could unlock.",
        ],
    },
    "Allocating and withdrawing resources": {
        "public": [
            "Data will inform decisions about where to focus resources, including when support "
            "can safely be withdrawn.",
            "Resources will be prioritised towards the families with the highest levels of "
            "assessed need.",
        ],
        "company": [
            "Target scarce staff and budgets where they will have the greatest impact, and step "
            "down support where risk has reduced.",
            "Evidence-based prioritisation lets you allocate caseworkers to the families who need "
            "them most.",
        ],
    },
    "Government returns and payment by results": {
        "public": [
            "Councils will be paid by results for each family whose outcomes are shown to have "
            "improved.",
            "Robust data is needed to evidence outcomes for government returns and to claim "
            "results-based payments.",
        ],
        "company": [
            "Automatically generate the evidence you need for payment-by-results claims and "
            "government returns.",
            "Our reporting module maximises the income your authority can claim under "
            "outcome-based funding schemes.",
        ],
    },
    "Errors and bias in records": {
        "public": [
            "Administrative records contain errors and omissions, and decisions based on them may "
            "unfairly target some families.",
            "Data recorded for one purpose may be inaccurate or out of date when it is reused to "
            "make judgements about families.",
        ],
        "company": [
            "We recognise that source records can contain errors, and our data quality checks "
            "flag inconsistencies for review.",
        ],
    },
    "Racial and gender profiling": {
        "public": [
            "There is a risk that profiling reproduces inequalities of race and gender that are "
            "already built into the data.",
            "Some groups, including young Black men and lone mothers, are over-represented in the "
            "systems from which the indicators are drawn.",
        ],
        "company": [
            "Our models are tested to check that they do not treat families differently because "
            "of ethnicity or gender.",
        ],
    },
    "Poverty read as risk": {
        "public": [
            "Indicators such as benefit receipt and rent arrears risk treating poverty itself as "
            "a sign of risk to children.",
            "Families may be identified for intervention simply because they are poor rather "
            "than because their children are unsafe.",
        ],
        "company": [
            "Deprivation measures are used alongside other indicators so that low income alone "
            "does not determine a family's score.",
        ],
    },
    "Low predictive success": {
        "public": [
            "The evidence that predictive models accurately identify children at risk is limited, "
            "and false positives are common.",
            "Evaluations have found that predictive tools often perform little better than chance "
            "when tested on new cohorts.",
        ],
        "company": [
            "Model performance is reviewed regularly, although no predictive tool can be expected "
            "to be right every time.",
        ],
    },
}

FILLERS = {
    "national_government": [
        "This document sets out the approach of {actor} for the next spending period.",
        "The programme was first launched several years ago and has since been extended.",
        "Local authorities will receive further guidance in due course.",
        "Annex A sets out the outcomes framework in more detail.",
        "We are grateful to the local areas and partners who contributed to this report.",
        "The independent evaluation will report its findings to Parliament.",
        "This statement should be read alongside the accompanying technical note.",
    ],
    "local_authority": [
        "This report is presented to the Cabinet for information and approval.",
        "The recommendations were considered by the Children's Services Scrutiny Committee.",
        "Appendix 2 provides a summary of the consultation responses received.",
        "The Director of Children's Services will provide a progress update in six months.",
        "Financial implications are set out in section 7 of this report.",
        "A data protection impact assessment has been completed for the project.",
        "Ward members will be briefed on progress through the usual channels.",
    ],
    "company": [
        "Book a demonstration with our team today.",
        "{org} works with councils and partnerships across the UK.",
        "Our platform is hosted in secure UK data centres.",
        "Read our latest case study to find out more.",
        "Implementation typically takes between eight and twelve weeks.",
        "Contact our public sector team to discuss your requirements.",
        "Training and ongoing support are included in every licence.",
    ],
}

# Probability that a document of each type uses a code (by code group): government documents
# construct problems, company pages sell solution rationales, a minority raise concerns.
GROUP_PROB = {
    "national_government": {PROBLEM: 0.55, SOLUTION: 0.07, CONCERN: 0.10},
    "local_authority": {PROBLEM: 0.42, SOLUTION: 0.15, CONCERN: 0.14},
    "company": {PROBLEM: 0.14, SOLUTION: 0.52, CONCERN: 0.03},
}
# Companies market the discovery of hidden risk above other problem constructions.
CODE_PROB_OVERRIDE = {("company", "Hidden risk"): 0.6, ("national_government", "Hidden risk"): 0.3}
# Codes a coder often applies together to the same passage.
RELATED = {
    "Hidden risk": "Profiling hidden risk",
    "Profiling hidden risk": "Hidden risk",
    "Early warning": "Hidden risk",
    "Knowing what families cost": "Families as a costly burden",
    "Families as a costly burden": "Knowing what families cost",
    "Foresight and prediction": "Early warning",
    "Poverty read as risk": "Errors and bias in records",
}
AREAS = {org: org.split(" ")[0] for org in ORGS["local_authority"]}
AREAS.update({"Saltmarsh Vale District Council": "Saltmarsh Vale",
              "Ardley Cross Borough Council": "Ardley Cross"})


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    code: str  # leaf code name
    coder: str


@dataclass
class Document:
    key: str
    name: str
    doc_type: str
    organisation: str
    year: int
    text: str = ""
    segments: list[Segment] = field(default_factory=list)


def leaf_paths() -> dict[str, str]:
    """Leaf code name -> code path (parent names joined by '/')."""
    paths: dict[str, str] = {}
    for top, sub in CODEBOOK.items():
        if isinstance(sub, dict):
            for mid, leaves in sub.items():
                paths.update({leaf: f"{top}/{mid}/{leaf}" for leaf in leaves})
        else:
            paths.update({leaf: f"{top}/{leaf}" for leaf in sub})
    return paths


LEAF_PATHS = leaf_paths()


def guid(seed: int, key: str) -> str:
    """Deterministic GUID: uuid5 of the seed and a key naming the element."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"parentlink-synthetic:{seed}:{key}"))


def code_probability(doc_type: str, leaf: str) -> float:
    group = LEAF_PATHS[leaf].split("/")[0]
    return CODE_PROB_OVERRIDE.get((doc_type, leaf), GROUP_PROB[doc_type][group])


def choose_codes(rng: random.Random, doc_type: str) -> list[str]:
    codes = [c for c in LEAF_PATHS if rng.random() < code_probability(doc_type, c)]
    while len(codes) < 2:  # every document says something codable
        weights = [code_probability(doc_type, c) for c in LEAF_PATHS]
        pick = rng.choices(list(LEAF_PATHS), weights=weights)[0]
        if pick not in codes:
            codes.append(pick)
    return codes


def fill(template: str, doc: Document, rng: random.Random) -> str:
    actor = {"national_government": "the Department", "local_authority": "the Council"}
    return template.format(
        actor=actor.get(doc.doc_type, doc.organisation),
        org=doc.organisation,
        area=AREAS.get(doc.organisation, "local areas"),
        cost=rng.choice(["£4 billion", "£6 billion", "£9 billion"]),
        n=rng.choice([80, 150, 200, 300]),
    )


def sentence_plan(rng: random.Random, doc: Document) -> list[tuple[str, str | None]]:
    """Sentences (text, code or None) in reading order: problems first, then solutions."""
    voice = "company" if doc.doc_type == "company" else "public"
    order = {PROBLEM: (0.0, 0.6), SOLUTION: (0.3, 1.0), CONCERN: (0.6, 1.0)}
    keyed: list[tuple[float, str, str | None]] = []
    for code in choose_codes(rng, doc.doc_type):
        pool = list(TEMPLATES[code][voice])
        lo, hi = order[LEAF_PATHS[code].split("/")[0]]
        for template in rng.sample(pool, k=min(len(pool), 1 + (rng.random() < 0.35))):
            keyed.append((rng.uniform(lo, hi), fill(template, doc, rng), code))
    n_fill = max(3, (2 * len(keyed)) // 3)
    for template in rng.sample(FILLERS[doc.doc_type], k=min(n_fill, 7)):
        keyed.append((rng.random(), fill(template, doc, rng), None))
    keyed.sort(key=lambda item: item[0])
    return [(text, code) for _, text, code in keyed]


def build_document(rng: random.Random, doc: Document) -> list[tuple[int, int, str | None, int]]:
    """Write doc.text; return (start, end, code, paragraph) for every sentence."""
    plan = sentence_plan(rng, doc)
    header = f"{doc.name}\n[SYNTHETIC TEXT generated by parentlink.synth_documents]\n\n"
    text = header
    spans: list[tuple[int, int, str | None, int]] = []
    para, left = 0, rng.randint(2, 4)
    for i, (sentence, code) in enumerate(plan):
        if i and left == 0:
            text += "\n\n"
            para, left = para + 1, rng.randint(2, 4)
        elif i:
            text += " "
        spans.append((len(text), len(text) + len(sentence), code, para))
        text += sentence
        left -= 1
    doc.text = text + "\n"
    return spans


def primary_segments(
    rng: random.Random, spans: list[tuple[int, int, str | None, int]], coder: str
) -> list[Segment]:
    segments: list[Segment] = []
    for i, (start, end, code, para) in enumerate(spans):
        if code is None:
            continue
        nxt = spans[i + 1] if i + 1 < len(spans) else None
        if nxt is not None and nxt[3] == para and rng.random() < 0.15:
            end = nxt[1]  # the argument runs on into the next sentence
        segments.append(Segment(start, end, code, coder))
        if code in RELATED and rng.random() < 0.2:
            segments.append(Segment(start, end, RELATED[code], coder))
    return segments


def sibling(rng: random.Random, code: str) -> str:
    parent = LEAF_PATHS[code].rsplit("/", 1)[0]
    options = [c for c, p in LEAF_PATHS.items() if p.rsplit("/", 1)[0] == parent and c != code]
    return rng.choice(options) if options else code


def shift(rng: random.Random, text: str, seg: Segment) -> tuple[int, int]:
    """Move a boundary by a few words, as a second coder selecting by hand would."""
    start, end = seg.start, seg.end
    words = [i + 1 for i, ch in enumerate(text[start:end]) if ch == " "]
    if len(words) > 6 and rng.random() < 0.5:
        start += words[rng.randint(0, 2)]  # skips the opening words
    elif len(words) > 6:
        end = start + words[-rng.randint(1, 3)] - 1  # drops the closing words
    else:
        end = min(len(text) - 1, end + 1)
    return start, end


def second_coding(
    rng: random.Random, doc: Document, spans: list[tuple[int, int, str | None, int]], coder: str
) -> list[Segment]:
    """A second coder: misses some codes, picks a sibling code, shifts boundaries, adds one."""
    out: list[Segment] = []
    for seg in doc.segments:
        r = rng.random()
        if r < 0.10:
            continue
        code = sibling(rng, seg.code) if r < 0.18 else seg.code
        start, end = shift(rng, doc.text, seg) if r < 0.45 else (seg.start, seg.end)
        out.append(Segment(start, end, code, coder))
    uncoded = [s for s in spans if s[2] is None]
    if uncoded and rng.random() < 0.35:
        start, end, _, _ = rng.choice(uncoded)
        weights = [code_probability(doc.doc_type, c) for c in LEAF_PATHS]
        out.append(Segment(start, end, rng.choices(list(LEAF_PATHS), weights=weights)[0], coder))
    return out


def generate(seed: int) -> list[Document]:
    """The corpus: documents with text and coded segments by one or two coders."""
    rng = random.Random(seed)
    docs: list[Document] = []
    for doc_type in DOC_TYPES:
        for i in range(COUNTS[doc_type]):
            org = rng.choice(ORGS[doc_type])
            year = rng.randint(2015, 2021)
            title = rng.choice(TITLES[doc_type])
            key = f"{TYPE_PREFIX[doc_type]}{i + 1:02d}"
            docs.append(Document(key, f"{key} {org} - {title} ({year})", doc_type, org, year))
    n_double = round(DOUBLE_CODED_SHARE * len(docs))
    double = set(rng.sample(range(len(docs)), n_double))
    for i, doc in enumerate(docs):
        spans = build_document(rng, doc)
        # Coders split the corpus; on double-coded documents Coder A is the primary coder.
        coder = CODERS[0] if (i in double or i % 2 == 0) else CODERS[1]
        doc.segments = primary_segments(rng, spans, coder)
        if i in double:
            doc.segments += second_coding(rng, doc, spans, CODERS[1])
        doc.segments = sorted(set(doc.segments), key=lambda s: (CODERS.index(s.coder),
                                                              s.start, s.end, LEAF_PATHS[s.code]))
    return docs


# ---------------------------------------------------------------- REFI-QDA writing


def sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)


def codebook_xml(parent: ET.Element, seed: int) -> None:
    codes = sub(sub(parent, "CodeBook"), "Codes")
    for top, children in CODEBOOK.items():
        top_el = sub(codes, "Code", guid=guid(seed, f"code:{top}"), name=top, isCodable="false")
        groups = children if isinstance(children, dict) else {"": children}
        for mid, leaves in groups.items():
            holder = top_el
            if mid:
                holder = sub(top_el, "Code", guid=guid(seed, f"code:{top}/{mid}"), name=mid,
                             isCodable="false")
            for leaf in leaves:
                sub(holder, "Code", guid=guid(seed, f"code:{LEAF_PATHS[leaf]}"), name=leaf,
                    isCodable="true")


def cases_xml(parent: ET.Element, docs: list[Document], seed: int) -> None:
    variables = sub(parent, "Variables")
    names = {"document_type": "Text", "organisation": "Text", "year": "Integer"}
    for name, kind in names.items():
        sub(variables, "Variable", guid=guid(seed, f"var:{name}"), name=name, typeOfVariable=kind)
    cases = sub(parent, "Cases")
    for doc in docs:
        case = sub(cases, "Case", guid=guid(seed, f"case:{doc.key}"), name=doc.name)
        values = {"document_type": doc.doc_type, "organisation": doc.organisation,
                  "year": str(doc.year)}
        for name, value in values.items():
            vv = sub(case, "VariableValue")
            sub(vv, "VariableRef", targetGUID=guid(seed, f"var:{name}"))
            sub(vv, "IntegerValue" if names[name] == "Integer" else "TextValue").text = value
        sub(case, "SourceRef", targetGUID=guid(seed, f"source:{doc.key}"))


def source_xml(sources: ET.Element, doc: Document, seed: int, users: dict[str, str]) -> None:
    sguid = guid(seed, f"source:{doc.key}")
    owner = users[doc.segments[0].coder] if doc.segments else users[CODERS[0]]
    src = sub(sources, "TextSource", guid=sguid, name=doc.name,
              plainTextPath=f"internal://{sguid}.txt", creatingUser=owner,
              creationDateTime=CREATED)
    for n, seg in enumerate(doc.segments):
        key = f"sel:{doc.key}:{n}"
        sel = sub(src, "PlainTextSelection", guid=guid(seed, key),
                  name=doc.text[seg.start:seg.end][:40], startPosition=str(seg.start),
                  endPosition=str(seg.end), creatingUser=users[seg.coder],
                  creationDateTime=CREATED)
        coding = sub(sel, "Coding", guid=guid(seed, f"coding:{doc.key}:{n}"),
                     creatingUser=users[seg.coder], creationDateTime=CREATED)
        sub(coding, "CodeRef", targetGUID=guid(seed, f"code:{LEAF_PATHS[seg.code]}"))


def project_xml(docs: list[Document], seed: int) -> bytes:
    ET.register_namespace("", NS)
    users = {name: guid(seed, f"user:{name}") for name in CODERS}
    root = ET.Element(f"{{{NS}}}Project", {
        "name": "Parental social licence document analysis (SYNTHETIC DATA)",
        "origin": "parentlink.synth_documents", "creatingUserGUID": users[CODERS[0]],
        "creationDateTime": CREATED})
    users_el = sub(root, "Users")
    for name, ugid in users.items():
        sub(users_el, "User", guid=ugid, name=name, id=name.split()[-1])
    codebook_xml(root, seed)
    cases_xml(root, docs, seed)
    sources = sub(root, "Sources")
    for doc in docs:
        source_xml(sources, doc, seed, users)
    sub(root, "Description").text = (
        "SYNTHETIC DATA generated by parentlink.synth_documents (seed "
        f"{seed}); fictional documents and organisations.")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def zip_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)  # fixed time: byte-identical archives
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def write_qdpx(docs: list[Document], seed: int, path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zip_entry(zf, "project.qde", project_xml(docs, seed))
        for doc in docs:
            zip_entry(zf, f"Sources/{guid(seed, f'source:{doc.key}')}.txt",
                      doc.text.encode("utf-8"))
    path.write_bytes(buf.getvalue())


def write_csv(docs: list[Document], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["document", "type", "organisation", "year", "coder", "code", "start",
                     "end", "quote"])
    for doc in sorted(docs, key=lambda d: d.name):
        for seg in doc.segments:
            writer.writerow([doc.name, doc.doc_type, doc.organisation, doc.year, seg.coder,
                             LEAF_PATHS[seg.code], seg.start, seg.end,
                             doc.text[seg.start:seg.end]])
    path.write_bytes(buf.getvalue().encode("utf-8"))


def write_corpus(seed: int, out: Path) -> tuple[Path, Path]:
    """Generate the corpus and write the .qdpx and .csv files; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    docs = generate(seed)
    qdpx, flat = out / "document_codes.qdpx", out / "document_codes.csv"
    write_qdpx(docs, seed, qdpx)
    write_csv(docs, flat)
    return qdpx, flat


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the SYNTHETIC document-codes corpus.")
    parser.add_argument("--seed", type=int, default=20210601)
    parser.add_argument("--out", type=Path, default=Path("raw"))
    args = parser.parse_args(argv)
    for path in write_corpus(args.seed, args.out):
        print(f"wrote {path} (SYNTHETIC DATA)")


if __name__ == "__main__":
    main()
