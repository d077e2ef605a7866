"""What the user gets, decided by code: evidence lines, claim checks, the gate, and every branch of the answer
pipeline, pinned with a model that replays given text (tests/fakes.py) on the real index."""
from __future__ import annotations

import re

import pytest

from answer.followup import Turn, history_from, looks_like_follow_up
from answer.pipeline import ask, ask_stream, cite
from answer.prompt import grammar, parse
from errors import UserError
from retrieval.evidence import Evidence, Sentence, dutch_date, leans_back, select
from retrieval.search import search
from tests.fakes import FakeLLM
from verify.claims import asks_quantity, check_claim, has_quantity, strip_yes_no
from verify.decide import Signals, decide
from verify.dutch import english_words, looks_english
from verify.gate import missing_specifics

CHINA = ("Het formele sociaal werk bestaat nu zo’n 30 jaar in China en wordt nog niet erkend als motiverende en "
         "empowerende kracht.")


def line(i: int, text: str, score: float = 0.9, source: int = 0, doc: str = "d.txt") -> Evidence:
    return Evidence(i, source, (Sentence(doc, 100 * i, 100 * i + len(text), text),), score)


# ---- claims -----------------------------------------------------------------------------------------------

def test_a_claim_in_the_evidences_own_words_passes():
    assert check_claim("Het formele sociaal werk bestaat in China zo’n 30 jaar.", [CHINA], "Hoe lang al?").ok


@pytest.mark.parametrize("claim, why", [
    ("Het formele sociaal werk bestaat in China zo’n 50 jaar.", "numbers"),
    ("Het formele sociaal werk bestaat in Japan zo’n 30 jaar.", "words"),
    ("Het formele sociaal werk wordt erkend als motiverende kracht.", "drops the negation"),
    ("Het formele sociaal werk bestaat niet in China.", "negation the evidence does not have"),
    ("Het social work bestaat in China.", "words"),
    ("", "empty"),
    ("Stappen mensen in kwetsbare posities nog wel naar het sociaal werk?", "a question"),
])
def test_a_claim_that_changes_the_evidence_fails(claim, why):
    check = check_claim(claim, [CHINA], "Hoe staat het sociaal werk in China ervoor?")
    assert not check.ok and why in check.reason


def test_english_words_are_found_by_frequency_not_by_a_list():
    assert english_words("Het sociaal werk is een onderwerp van sociale work.") == ["work"]
    assert english_words("De caseload is te hoog en dat is de core business.", "caseload core business") == []
    assert english_words("Dat staat in „Social work engages people”.") == []  # a quotation is the source's
    assert looks_english("Who wrote the article about solidarity?")
    assert not looks_english("Wie schreef het stuk over solidariteit?")


def test_a_claim_must_say_more_than_the_question():
    evidence = ["De coronacrisis legt een aantal structurele tekortkomingen in het sociaal domein bloot."]
    assert not check_claim("De coronacrisis legt tekortkomingen bloot.", evidence,
                           "Welke tekortkomingen legt de coronacrisis bloot?").ok


def test_yes_no_openers_and_quantity_questions():
    assert strip_yes_no("Nee, het bestaat zo’n 30 jaar.") == ("Het bestaat zo’n 30 jaar.", True)
    assert strip_yes_no("Neem nou de wijk.") == ("Neem nou de wijk.", False)
    assert asks_quantity("Hoeveel vrijwilligers zijn er?") and asks_quantity("Wanneer verscheen het?")
    assert not asks_quantity("Waarom stoppen sociaal werkers?")
    assert has_quantity("elke vier, vijf jaar") and has_quantity("53.200 sociaal werkers")
    assert not has_quantity("een boek over zorg")


# ---- the decision --------------------------------------------------------------------------------------

def test_decide_answers_quotes_or_refuses():
    lines = [line(1, "De pijlers onder solidariteit zijn wederkerigheid en vertrouwen."),
             line(2, "Sociaal werkers hebben goede papieren.", score=0.7)]
    q = "Waarop rust solidariteit?"
    answer = decide(q, lines, [1], "De pijlers onder solidariteit zijn wederkerigheid en vertrouwen.")
    assert answer.kind == "answer" and [e.id for e in answer.evidence] == [1]
    quote = decide(q, lines, [1], "Solidariteit rust op naastenliefde.")
    assert quote.kind == "quote" and quote.evidence == [lines[0]] and "not in the evidence" in quote.notes[-1]
    assert decide(q, lines, [], "").kind == "refuse"
    assert decide(q, lines, [7], "Iets.").kind == "refuse"  # a line that does not exist
    # The doubt weighs the model's probability of "geen" (here the only weight) against a threshold.
    doubtful = Signals(p_none=0.9, p_lines={1: 0.5})
    assert decide(q, lines, [1], "Vertrouwen.", doubtful, weights=(0, 1, 0, 0, 0), max_doubt=0.4).kind == "refuse"
    assert decide(q, lines, [1], "Vertrouwen.", doubtful, weights=(0, 1, 0, 0, 0), max_doubt=0.5).kind != "refuse"
    # The line the model most likely meant comes first, even when it named another one.
    sure = Signals(p_none=0.01, p_lines={1: 0.9, 2: 0.1})
    assert decide(q, lines, [2], "Onzin die nergens staat.", sure).evidence[0].id == 1


def test_the_reply_shows_the_lines_the_model_most_likely_meant_not_all_it_wrote():
    q = "Waarop rust solidariteit?"
    lines = [line(1, "De pijlers onder solidariteit zijn wederkerigheid en vertrouwen.", score=0.85),
             line(2, "Solidariteit vraagt om vertrouwen tussen burgers.", score=0.84),
             line(3, "Sociaal werkers hebben goede papieren.", score=0.80),
             line(4, "Het artikel verscheen in 2020.", score=0.79)]
    # It wrote 3 and 4 but gave line 2 more probability than both: the two likeliest lines are the quotation.
    signals = Signals(p_none=0.01, p_lines={1: 0.5, 2: 0.3, 3: 0.12, 4: 0.08})
    quote = decide(q, lines, [3, 4], "Solidariteit rust op naastenliefde.", signals, weights=(-9, 0, 0, 0, 0))
    assert quote.kind == "quote" and [e.id for e in quote.evidence] == [1, 2]
    # A line it neither wrote nor gave MIN_LINE_P is not shown beside a checked claim.
    signals = Signals(p_none=0.01, p_lines={1: 0.9, 2: 0.02, 3: 0.05})
    answer = decide(q, lines, [1], "De pijlers onder solidariteit zijn wederkerigheid en vertrouwen.", signals,
                    weights=(-9, 0, 0, 0, 0))
    assert answer.kind == "answer" and [e.id for e in answer.evidence] == [1]
    # Beside a claim's own line: the next likeliest (3, which it did not write, before 2 and 4, which it did);
    # never more than the claim's lines plus one.
    signals = Signals(p_none=0.01, p_lines={1: 0.6, 2: 0.1, 3: 0.2, 4: 0.1})
    answer = decide(q, lines, [1, 2, 4], "De pijlers onder solidariteit zijn wederkerigheid en vertrouwen.",
                    signals, weights=(-9, 0, 0, 0, 0))
    assert [e.id for e in answer.evidence] == [1, 3] and answer.support == [1]
    # A backend without probabilities: the lines the model wrote, in its order.
    quote = decide(q, lines, [3, 1, 4], "Solidariteit rust op naastenliefde.")
    assert [e.id for e in quote.evidence] == [1, 3]


def test_a_brief_reply_is_the_likeliest_lines_quoted_with_the_same_doubt():
    lines = [line(1, "Er zijn veel vrijwilligers in het sociaal domein actief.", 0.9),
             line(2, "In Nederland zijn 117.000 vrijwilligers actief in het sociaal domein.", 0.85),
             line(3, "Het symposium trok honderd bezoekers uit het hele land.", 0.8)]
    sure = Signals(p_none=0.01, p_lines={2: 0.7, 1: 0.25, 3: 0.05})
    d = decide("Hoeveel vrijwilligers zijn er?", lines, [2], "", sure, brief=True)
    # An amount question with no sentence is not refused for lacking the amount: the lines are the answer.
    assert d.kind == "quote" and [e.id for e in d.evidence] == [1, 2] and not d.claim
    doubtful = Signals(p_none=0.97, p_lines={3: 0.4, 1: 0.3, 2: 0.3})
    full = decide("Hoeveel vrijwilligers zijn er?", lines, [3], "Honderd.", doubtful)
    assert decide("Hoeveel vrijwilligers zijn er?", lines, [3], "", doubtful, brief=True).kind == full.kind == "refuse"
    assert decide("Hoeveel vrijwilligers zijn er?", lines, [], "", sure, brief=True).kind == "refuse"


def test_an_amount_question_needs_an_amount_in_the_answer_and_its_evidence():
    lines = [line(1, "Monique Kremer is hoogleraar Actief burgerschap aan de Universiteit van Amsterdam.")]
    assert decide("Hoe oud is Monique Kremer?", lines, [1], "Monique Kremer is hoogleraar.").kind == "refuse"
    lines = [line(1, "Dit artikel is een verkorte versie van haar lezing uit 2020.")]
    assert decide("Hoe oud is Monique Kremer?", lines, [1], "Zij is hoogleraar.").kind == "refuse"


def test_an_amount_answer_without_the_amount_falls_back_to_the_line_that_has_it():
    lines = [line(1, "Vrijwilligers zijn belangrijk in het sociaal domein."),
             line(2, "Het werk wordt uitgevoerd door 53.200 sociaal werkers en 117.000 vrijwilligers.")]
    d = decide("Hoeveel vrijwilligers zijn er?", lines, [1, 2], "Er zijn veel vrijwilligers.")
    assert d.kind == "quote" and [e.id for e in d.evidence] == [2] and "holds none" in d.notes[-1]


def test_a_claim_the_token_limit_cut_off_loses_its_unfinished_sentence():
    lines = [line(1, "Het formele sociaal werk bestaat nu zo’n 30 jaar in China."),
             line(2, "Het wordt nog niet erkend als motiverende en empowerende kracht.")]
    q = "Hoe staat het sociaal werk in China ervoor?"
    claim = "Het formele sociaal werk bestaat zo’n 30 jaar in China. Het wordt nog niet erkend als"
    d = decide(q, lines, [1, 2], claim, cut=True)
    assert d.kind == "answer" and d.claim == "Het formele sociaal werk bestaat zo’n 30 jaar in China."
    assert "token limit" in d.notes[-1]
    assert decide(q, lines, [1, 2], claim).claim == claim  # not cut: the whole claim is checked
    only = decide(q, lines, [1, 2], "Het formele sociaal werk bestaat zo’n 30 jaar in", cut=True)
    assert only.kind == "quote" and not only.claim and [e.id for e in only.evidence] == [1, 2]


def test_a_leading_yes_or_no_is_left_out():
    lines = [line(1, CHINA)]
    d = decide("Wordt het sociaal werk in China erkend?", lines, [1], "Nee, het wordt nog niet erkend.")
    assert d.kind == "answer" and d.claim == "Het wordt nog niet erkend." and "yes/no" in d.notes[0]


# ---- gate, prompt, follow-ups ----------------------------------------------------------------------------

def test_names_and_numbers_the_sources_never_mention():
    texts = ["Veldboer: op de ladder stond maatschappelijk werk in 1987 op 42 en in 2016 op 62. China en Nederland."]
    assert missing_specifics("Welke positie had maatschappelijk werk in 1996?", texts) == ["1996"]
    assert missing_specifics("Hoeveel vrijwilligers werken er in Duitsland?", texts) == ["Duitsland"]
    assert missing_specifics("Wat vinden de Chinezen van Veldboer?", texts) == []  # names inflect
    assert missing_specifics("How many volunteers are there in the Netherlands?", texts) == []


def test_grammar_and_lenient_parsing():
    g = grammar(3)
    assert 'id ::= "1" | "2" | "3"' in g and '" geen"' in g and "{0,2}" in g
    assert parse(" geen") .chosen == []
    reply = parse(" 2, 5\nAntwoord: Er zijn 53.200 sociaal werkers.")
    assert reply.chosen == [2, 5] and reply.claim == "Er zijn 53.200 sociaal werkers."
    assert parse("[3] Het antwoord.").chosen == [3]  # a backend without grammar, read leniently


def test_follow_ups_and_history_input():
    assert looks_like_follow_up("En wat zegt zij over vertrouwen?") and looks_like_follow_up("Waarom?")
    assert looks_like_follow_up("And how many volunteers?")
    assert looks_like_follow_up("Kun je een voorbeeld geven?")
    assert not looks_like_follow_up("Wat is volgens Monique Kremer de kern van solidariteit in Nederland?")
    assert history_from([{"question": "Wie?", "answer": "Kremer."}]) == [Turn("Wie?", "Kremer.")]
    assert history_from(None) == []
    with pytest.raises(UserError) as err:
        history_from([{"vraag": "Wie?"}])
    assert "gespreksgeschiedenis" in err.value.dutch


def test_a_rewrite_that_drops_the_follow_ups_own_question_is_rejected():
    from answer.followup import keeps_the_question, standalone_question

    assert not keeps_the_question("Waar werkt zij?", "Op welke fundamenten rust solidariteit volgens Kremer?")
    assert keeps_the_question("Waar werkt zij?", "Waar werkt Monique Kremer?")
    assert keeps_the_question("Waarom?", "Waarom vindt Veldboer dat?") and keeps_the_question("Why?", "Waarom?")
    # The same words asking something else (found by hand: the same question asked twice in a chat became
    # "Waarom schreef het stuk over solidariteit?" and got a quotation about mening en beleid).
    assert not keeps_the_question("wie schreef het stuk over solidariteit", "Waarom schreef het stuk over solidariteit?")
    assert keeps_the_question("Wie schreef het?", "Wie schreef het stuk over solidariteit?")
    assert keeps_the_question("En in 2021?", "Hoeveel bezoekers had de bibliotheek in 2021?")  # asked nothing itself
    asked_again = [Turn("Wie schreef het stuk over solidariteit?", "Monique Kremer.")]  # nothing to add to it
    assert standalone_question(FakeLLM("Waarom schreef het stuk over solidariteit?").llm,
                               "wie schreef het stuk over solidariteit", asked_again) == "wie schreef het stuk over solidariteit"
    history = [Turn("Op welke fundamenten rust solidariteit volgens Kremer?", "Wederkerigheid en vertrouwen.")]
    bad = FakeLLM("Op welke fundamenten rust solidariteit volgens Kremer?")
    assert standalone_question(bad.llm, "Waar werkt zij?", history) == \
        "Waar werkt zij? (Op welke fundamenten rust solidariteit volgens Kremer?)"


def test_citations_go_before_the_full_stop():
    assert cite("Er zijn 53.200 sociaal werkers.", [1, 3]) == "Er zijn 53.200 sociaal werkers\u00a0[1]\u00a0[3]."
    # An abbreviation is not a sentence end: one claim, one mark at its end ("ca [1]. 30 jaar [1]." was a bug).
    assert cite("Het bestaat al ca. 30 jaar.", [1]) == "Het bestaat al ca. 30 jaar\u00a0[1]."


def test_apostrophes_in_a_claim_are_words_not_quotation_marks():
    claim = "In China bestaat ’t formele sociaal werk al zo’n 30 jaar."
    assert check_claim(claim, [CHINA], "Hoe lang bestaat het formele sociaal werk in China?").ok


# ---- evidence lines on the real index ---------------------------------------------------------------------

def lines_for(seed_index, question: str) -> list[Evidence]:
    index, embedder = seed_index
    vec = embedder.embed_query(question)
    hits = search(index, embedder, question, k=5, query_vec=vec)
    return select(question, vec, hits, embedder, index.documents_by_id)


def test_evidence_lines_come_best_first_with_the_sentence_they_lean_on(seed_index):
    lines = lines_for(seed_index, "Waarom gooien steeds meer sociaal werkers de handdoek in de ring?")
    assert [e.score for e in lines] == sorted((e.score for e in lines), reverse=True)
    assert [e.id for e in lines] == list(range(1, len(lines) + 1))
    motive = next(e for e in lines if "Het is een belangrijk motief" in e.text)
    assert motive.text.index("relationele continuïteit") < motive.text.index("Het is een belangrijk motief")
    assert leans_back("Daarbij gaat het om een te grote nadruk.") and not leans_back("Mensen zijn niet verbonden.")


def test_bylines_reach_the_model(seed_index):
    lines = lines_for(seed_index, "Wie schreef het stuk over sociaal werk in China en wanneer verscheen het?")
    byline = next(e for e in lines if e.byline)
    assert "Marije van der Meij" in byline.text and "6 september 2018" in byline.text
    assert dutch_date("2020-06-19") == "19 juni 2020"


# ---- every branch of the pipeline, with a replaying model ------------------------------------------------

Q = "Hoeveel sociaal werkers zijn er in Nederland?"


def test_a_checked_answer_comes_with_its_evidence_and_streams_in_order(retriever, seed_index):
    lines = lines_for(seed_index, Q)
    n = next(e.id for e in lines if "53.200" in e.text)
    fake = FakeLLM(f" {n}\nAntwoord: Er zijn 53.200 sociaal werkers in Nederland.")
    events = list(ask_stream(retriever, fake.llm, Q))
    kinds = [k for k, _ in events]
    assert kinds[0] == "sources" and "chosen" in kinds and kinds[-1] == "done"
    assert kinds.index("chosen") < kinds.index("token")
    assert "".join(p for k, p in events if k == "token") == "Er zijn 53.200 sociaal werkers in Nederland."
    result = events[-1][1]
    assert result.kind == "answer" and "53.200" in result.answer and "„" in result.answer
    d = result.to_dict()
    assert d["citations"][0]["doc"] == "004_2ca47b64a9ad85fe.txt" and "53.200" in d["citations"][0]["evidence"][0]["text"]
    call = fake.calls[0]
    assert call["prefill"] == "Zinnen:" and f'"{len(lines)}"' in call["grammar"]
    assert f"[{n}] " in call["messages"][-1]["content"]


def test_an_answer_exports_as_a_report_whose_evidence_rechecks(retriever, seed_index):
    from report.build import answer_report, recheck

    n = next(e.id for e in lines_for(seed_index, Q) if "53.200" in e.text)
    result = ask(retriever, FakeLLM(f" {n}\nAntwoord: Er zijn 53.200 sociaal werkers in Nederland.").llm, Q)
    documents = {d.id: d for d in retriever.index.documents}
    report = answer_report(result, documents)
    assert report["kind"] == "answer" and report["question"] == Q and "53.200" in report["answer"]
    (source,) = report["items"][0]["sources"]
    assert "53.200" in source["text"] and source["doc"] == "004_2ca47b64a9ad85fe.txt" and source["doc_sha256"]
    assert [r["status"] for r in recheck(report, documents)] == ["holds"]


def test_an_unsupported_claim_is_replaced_by_its_evidence(retriever, seed_index):
    n = next(e.id for e in lines_for(seed_index, Q) if "53.200" in e.text)
    result = ask(retriever, FakeLLM(f" {n}\nAntwoord: Er zijn 60.000 sociaal werkers.").llm, Q)
    assert result.kind == "quote" and "60.000" not in result.answer and "53.200" in result.answer


def test_an_answer_that_copies_its_evidence_is_shown_once(retriever, seed_index):
    from ui.render import answer_markdown

    line = next(e for e in lines_for(seed_index, Q) if "53.200" in e.text)
    result = ask(retriever, FakeLLM(f" {line.id}\nAntwoord: {line.text}").llm, Q)
    assert result.kind == "answer" and result.verbatim and result.claim == line.text
    assert result.answer.count("53.200") == 1 and result.answer.startswith("Het antwoord in de woorden van de bronnen")
    assert answer_markdown(result).count("53.200") == 1
    summary = ask(retriever, FakeLLM(f" {line.id}\nAntwoord: Er zijn 53.200 sociaal werkers in Nederland.").llm, Q)
    assert not summary.verbatim and summary.answer.count("53.200") == 2  # its own words, then the evidence


def test_an_answer_cut_off_by_the_token_limit_is_not_shown_unfinished(retriever, seed_index):
    n = next(e.id for e in lines_for(seed_index, Q) if "53.200" in e.text)
    reply = f" {n}\nAntwoord: Er zijn 53.200 sociaal werkers in Nederland. Zij werken in wijkteams en bij"
    result = ask(retriever, FakeLLM(reply).llm, Q, max_tokens=12)
    assert result.kind == "answer" and result.claim == "Er zijn 53.200 sociaal werkers in Nederland."
    assert result.signals["cut"] and "wijkteams" not in result.answer.split("\n")[0]


def test_the_model_choosing_nothing_is_a_refusal(retriever):
    result = ask(retriever, FakeLLM(" geen").llm, Q)
    assert result.kind == "refused" and result.answer == "Dat staat niet in de bronnen." and not result.citations()


def test_the_models_doubt_is_weighed(retriever, seed_index):
    n = next(e.id for e in lines_for(seed_index, Q) if "53.200" in e.text)
    reply = f" {n}\nAntwoord: Er zijn 53.200 sociaal werkers in Nederland."
    sure = ask(retriever, FakeLLM(reply, step_probs=[{" ": 0.99, " geen": 0.01}, {str(n): 0.9}]).llm, Q)
    assert sure.kind == "answer" and sure.signals["p_none"] == 0.01 and sure.signals["p_lines"] == {n: 0.9}
    doubtful = ask(retriever, FakeLLM(reply, step_probs=[{" ": 0.05, " geen": 0.95}, {str(n): 0.3}]).llm, Q)
    assert doubtful.signals["doubt"] > sure.signals["doubt"]


def test_the_gate_refuses_before_the_model_runs(retriever):
    fake = FakeLLM(" 1\nAntwoord: Canberra.")
    result = ask(retriever, fake.llm, "Wat is de hoofdstad van Australië?")
    assert result.refused and not fake.calls and "before generation" in result.notes[0]


def test_a_follow_up_is_asked_as_the_rewritten_question(retriever, seed_index):
    fake = FakeLLM("Hoeveel vrijwilligers zijn er in Nederland?", " geen")
    result = ask(retriever, fake.llm, "En hoeveel vrijwilligers?", [Turn(Q, "53.200 [1].")])
    assert result.standalone == "Hoeveel vrijwilligers zijn er in Nederland?"
    assert "Laatste vraag: En hoeveel vrijwilligers?" in fake.calls[0]["messages"][-1]["content"]
    assert "Vraag: Hoeveel vrijwilligers zijn er in Nederland?" in fake.calls[1]["messages"][-1]["content"]
    assert result.to_dict()["standalone_question"] == result.standalone


def test_a_byline_citation_opens_its_source_on_the_byline(retriever, seed_index):
    from ui.render import sources_html

    question = "Wie schreef het stuk over sociaal werk in China?"
    byline = next(e for e in lines_for(seed_index, question) if e.byline)
    result = ask(retriever, FakeLLM(f" {byline.id}\nAntwoord: Het artikel is geschreven door Marije van der Meij.").llm,
                 question)
    assert result.kind == "answer" and result.cited() == [byline.source + 1]
    source = result.sources[byline.source]
    assert [b.text for b in source.bylines] == [byline.text] and all(s.start >= 0 for s in source.sentences)
    html = sources_html(result.sources, set(result.cited()))
    opened = html[html.index(f"id='bron-{byline.source + 1}'"):]
    opened = opened[:opened.index("</details>")]
    shown = re.search(r"<div class='vb-byline'><mark>([^<]*)</mark></div>", opened)
    assert " open>" in opened and shown
    assert "Marije van der Meij" in shown.group(1) and opened.index("vb-byline") < opened.index("vb-passage")
    assert html.count("vb-byline") == 1  # only the source the byline was read from shows it


def test_the_chat_bubble_links_only_its_own_citations(retriever, seed_index):
    from ui.render import answer_markdown

    n = next(e.id for e in lines_for(seed_index, Q) if "53.200" in e.text)
    result = ask(retriever, FakeLLM(f" {n}\nAntwoord: Er zijn 53.200 sociaal werkers in Nederland.").llm, Q)
    source = result.evidence[0].source + 1
    md = answer_markdown(result)
    assert md.startswith(f"Er zijn 53.200 sociaal werkers in Nederland\u00a0[[{source}]](#bron-{source}).")
    assert f"> „Wij vertelden dat het werk in Nederland" in md
    # Corpus text that looks like markup stays text: "[1]" in an article is not a citation link.
    result.evidence[0] = Evidence(1, 0, (Sentence("d.txt", 0, 30, "Uit recent onderzoek[1] *blijkt*"),), 1.0)
    md = answer_markdown(result)
    assert "onderzoek\\[1\\] \\*blijkt\\*" in md and md.count("](#bron-") == 2
