"""The pipeline's fixed thresholds and weights, as data in one place, each with why it has its value.

These are choices of the algorithms, not settings: no flag or environment variable changes them, and an
index or an evaluation result is only comparable with another made with the same values. (What a user may
tune, such as the abstention thresholds, is in `qa.config`.) Changing one here changes answers: run
`qa eval` before and after.
"""

from __future__ import annotations

# ---- chunking: where a line break ends a paragraph ---------------------------------------------------------

# A heading is a short line: longer than this, or with more words, it is a sentence without a stop.
HEADING_MAX_CHARS = 80
HEADING_MAX_WORDS = 12
# A hard-wrapped file (PDF extraction, e-mail) is recognised by many lines that end mid-sentence at a similar
# width: of its non-empty lines (at least WRAPPED_MIN_LINES, fewer say nothing), at least WRAPPED_SHARE are
# between these widths without a closing stop.
WRAPPED_MIN_WIDTH = 40
WRAPPED_MAX_WIDTH = 120
WRAPPED_SHARE = 0.3
WRAPPED_MIN_LINES = 6
# In hard-wrapped text a line without a stop goes on, unless it is shorter than this: a short line there is
# the end of a paragraph, a label or a heading, not a line cut at the wrap width.
WRAPPED_SHORT_LINE = 50
# A paragraph is a bibliography when this share of its sentences are citation records or title-like.
REFERENCE_SHARE = 0.6
# A line with no full stop is a caption or heading when this share of its letters (at least this many) are
# capitals.
CAPS_LABEL_SHARE = 0.8
CAPS_LABEL_MIN_LETTERS = 8

# ---- answering: how a sentence is scored (qa.answering) ----------------------------------------------------

# score = W_DENSE * cosine + W_LEXICAL * term coverage + W_TYPE * (has the kind of thing asked) + W_RANK / rank:
# meaning first, the query's own words close behind (codes and numbers the model blurs), the answer type as
# a tie-breaker, and retrieval's ranking only lightly (it ranked chunks, not sentences).
W_DENSE = 0.55
W_LEXICAL = 0.35
W_TYPE = 0.12
W_RANK = 0.04
# A query term's weight is its inverse document frequency; a term in every chunk still counts this much, so
# a question made only of common words still has weights that sum to more than nothing.
MIN_TERM_WEIGHT = 0.05
# The words the user typed in this turn weigh this many times those a follow-up carried over from before
# ("... South Korean ones?" must find South Korea, not the earlier question's subject again).
OWN_TERM_BOOST = 2.0
# Extra sentences of a FACT answer must score within this of the best one ...
EXTRA_SENTENCE_WINDOW = 0.20
# ... and cover at least this share of the query's weight that the chosen ones do not cover yet.
MIN_EXTRA_GAIN = 0.10
# List lines a quote ending "... as follows:" takes with it: the list answers it, but a quote stays readable.
MAX_LIST_ITEMS = 15
# ... past a blank line or a deeper indent (a sub-item): this many characters of line breaks and spaces
# between two of its lines, at most (`lists.list_end`). A heading or a paragraph ends it.
LIST_GAP_CHARS = 9
# A quoted list item brings the items beside it that match this share of the query weight it matches: the
# question cannot tell them apart ("Where have the consultations been held?" against one line per meeting).
LIST_SIBLING_SHARE = 0.75

# ---- answering: abstention evidence -------------------------------------------------------------------------

# confidence = best sentence's cosine + this * its term coverage: coverage is a weaker signal than meaning.
CONFIDENCE_COVERAGE_WEIGHT = 0.5
# The closest passage being far from the query refuses only while the best sentence covers less than this
# share of the query's weight: a sentence with half the question's words is on topic whatever the passage's
# vector says.
ON_TOPIC_COVERAGE = 0.5
# The best sentences that the subject, negation and answer-type checks read (qa.answering.gather_evidence):
# names and places are recognised less reliably than dates, so one of the top few having one is enough.
NEAR_CANDIDATES = 3
# Query words named in an abstention's reason, heaviest first: enough to see what is missing, short to read.
SHOWN_MISSING_TERMS = 3

# ---- answering by shape (qa.selecting, and the hits retrieval adds for a shape) -------------------------------

SUMMARY_SENTENCES = 4  # a summary quotes this many sentences at most
SUMMARY_CENTRALITY = 0.6  # weight of centrality against the sentence's own score for the question
SUMMARY_HEADING_BONUS = 0.15  # a sentence under a heading the question names ("the discussion section")
# A heading that names this share of the question's subject (its weighted terms, the words asking for a
# summary left out) is the section asked about: the summary quotes that section.
SUMMARY_SECTION_SHARE = 0.8
SUMMARY_CUE_BONUS = 0.15  # a sentence under a heading that announces a summary ("Key findings", "Abstract")
SUMMARY_TITLE_WEIGHT = 0.15  # times the share of the title's words a sentence has
SUMMARY_LEAD = 2  # the document's first sentences ...
SUMMARY_LEAD_BONUS = 0.1  # ... count this much more
SUMMARY_MIN_COVERAGE = 0.5  # a summary's subject words, weighted: this share must be in the document
SUMMARY_MAX_CHUNKS = 30  # chunks of the target document read for a summary, beyond those retrieved
COMPARISON_SENTENCES = 4
COMPARISON_WINDOW = 0.35  # a side's sentence may score this far below the best sentence
COMPARISON_SIDE_HITS = 2  # chunks retrieved for each side of a comparison on its own (retrieval.side_hits)
REDUNDANT_COSINE = 0.88  # a sentence this close to one already chosen adds nothing (every shape, and FACT)
EVENT_DEPTH = 30  # BM25 chunks searched for the sentences that write an event question's date
EVENT_EXTRA_HITS = 3  # ... of which this many join the retrieved ones
EVENT_SENTENCES = 3
# "What happened at X?" without a date: the best sentence and up to this many in all after it, each scoring
# within NARRATIVE_WINDOW of it (the same allowance a comparison's side has, COMPARISON_WINDOW).
NARRATIVE_SENTENCES = 3
NARRATIVE_WINDOW = 0.35
# An attribution line ("— ASEAN (@ASEAN) October 28, 2025") dates this many sentences before it: a quoted post
# or statement is short, and a chunk does not keep where its paragraph began.
ATTRIBUTED_SENTENCES = 2
DOCUMENT_EXTRA_COVERAGE = 0.5  # a body sentence joins a catalogue answer when it has this share of terms
