"""Backtesting alerting settings on the history the daemon stored (``tensiond backtest``).

An operator tuning the YAML wants to know, before reloading: with these thresholds, routes,
mutes and inhibit rules, what would last week have looked like in each channel? The answer is
computed from what is already in the database, without the model and without Slack.

Where the data comes from
    The *current* config (``--current``, else ``$TENSIOND_CONFIG``, else the defaults) names the
    database that holds the history. The *candidate* (``--config``) only supplies settings. Three
    columns are shown side by side: what the outbox holds (rows created in the window, whatever
    their state: what the daemon actually decided), the current settings replayed, and the
    candidate's replayed. Comparing the candidate with the *replayed* current settings keeps the
    comparison like for like; comparing the replayed current settings with the outbox checks the
    replay itself (they agree message for message when the config did not change meanwhile).

How the history is replayed (:mod:`.timeline`, :mod:`.simulation`)
    One query reads every item that joined an event since the start (``event_items`` with its
    item and verdict), ordered by the decide time the daemon stored for it (``joined_at``, shared
    by a whole batch) and then by when it was seen. Events are regrown item by item with the
    clustering code's own ``start`` and ``join`` (the stored memberships say which event each
    item joined, so no story vectors are needed). Each decide time is one batch: every event it
    changed is planned with :func:`tensiond.alerts.route.plan`, most tense first, against the
    running notices and open alerts, then :func:`~tensiond.alerts.route.group_overflow` groups
    what exceeds a channel's budget, as ``pipeline._decide`` does; held notices go out in a digest
    at their route's next scheduled time. Replay starts a warm-up before ``--since`` (the longest
    an event grows, an alert stays open, or an event stays alertable) so that what was already
    posted or open at ``--since`` is known; only what happens after ``--since`` is counted.

What is simulated and what is not
    Simulated: thresholds (default and per label), ``max_age``, the route tree and its channels,
    mutes (as of each moment: a mute that expired yesterday applied until yesterday), inhibit
    rules, quiet hours and digests, updates paced by ``group_interval``, develop and repeat
    replies, easing replies, ``group_after``; source tiers, ``confirm_tier`` and feed tags are
    taken from each config. Not simulated: classification and clustering (stored verdicts and
    memberships are used, so ``scoring``, ``model`` and the ``events`` thresholds have no effect),
    Slack delivery (pacing, retries, failures: a message counts once decided, like an outbox
    row), and the tension index's spike and easing alerts (shown as kind ``index`` in the outbox
    column only).

Labelled evaluation (:mod:`.labelled`)
    ``--labelled FILE.jsonl`` classifies labelled stories with the real model and reports, per
    threshold, the precision and recall of routing's is-alertable rule against the labels.

Speed
    100,000 stored items replay in seconds (bench/backtest.py; docs/backtest.md): one query,
    events regrown once per distinct set of source tiers and feed tags and shared by every
    simulation, open alerts indexed by dyad and expired lazily, and the open alerts looked up
    only for the plans that can read them (an alertable event that an inhibit rule targets, or
    an actual de-escalation).
"""

from __future__ import annotations

from tensiond.exceptions import TensiondError


class BacktestError(TensiondError):
    """A backtest cannot run as asked: a bad sweep, a bad labelled file, unusable history.

    ``tensiond backtest`` reports it on stderr and exits 2 (the input is wrong, not tensiond).
    """
