"""The linear relations the report's own tables obey, declared so that secondary suppression, its LP audit
and the class-disclosure rule protect against the table's arithmetic (not only against its totals).

The sample flow, per LA: every child referred in the window is excluded for age, excluded for care before
the referral, or in the sample; the sample is censored or analysed; events, first-referral ties and
missing ages are some of the sample (events are never censored: a child with the event is followed up).
"""

from __future__ import annotations

from cscvault.disclosure.check import ColumnRelation, TableLink

FLOW_RELATIONS = (
    ColumnRelation("referred_in_window", ("excluded_age", "excluded_care_before_referral", "in_sample")),
    ColumnRelation("in_sample", ("censored", "analysed")),
    ColumnRelation("analysed", ("events",), exact=False),
    ColumnRelation("in_sample", ("first_referral_ties",), exact=False),
    ColumnRelation("in_sample", ("age_missing",), exact=False),
)

# Events and children analysed by LA and period: the events are some of the children.
RATES_RELATIONS = (ColumnRelation("children", ("events",), exact=False),)

# The flow by LA and period, as the report checks it: referred, excluded by reason, in the sample. Censored
# and analysed by period are not in it: the children analysed per LA and period are the outcome-rates
# table's, and every further column made its exact relations suppress nearly all of it under a profile
# where zeros are disclosive (the demo: only the referred counts survived).
FLOW_PERIOD_COUNTS = ("referred_in_window", "excluded_age", "excluded_care_before_referral", "in_sample")
FLOW_PERIOD_RELATIONS = (
    ColumnRelation("referred_in_window", ("excluded_age", "excluded_care_before_referral", "in_sample")),
)

# The same counts in both tables: per LA, the flow's children analysed and events are the sums over periods
# of the rates table's children and events (both count the analysed sample). Released together, or one after
# the other, a withheld cell of one would otherwise follow from the other by subtraction.
FLOW_RATES_LINKS = (
    TableLink("flow.csv", "analysed", "rates.csv", "children", ("la",)),
    TableLink("flow.csv", "events", "rates.csv", "events", ("la",)),
)

# Per LA, each count of the flow is the sum of that count over the LA's periods in the flow by period.
FLOW_PERIOD_LINKS = tuple(TableLink("flow.csv", c, "flow_period.csv", c, ("la",)) for c in FLOW_PERIOD_COUNTS)
