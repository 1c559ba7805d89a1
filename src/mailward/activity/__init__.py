"""Worrying activity across messages: per-account baselines, the ACT_ checks, alerts and the
automatic responses to them (see docs/activity.md).

baseline.py   hourly counters, correspondents, networks and recent events per account (SQL)
checks.py     the ACT_ checks, each returning findings with evidence
alerts.py     one alert per incident, deduplicated by (kind, subject); open/acknowledged/closed
notify.py     webhook (HMAC-signed JSON) and syslog delivery of alert events
campaigns.py  messages clustered into campaigns (campaign_index.py, campaign_text.py); a bad
              campaign is alerted on and clawed back (docs/campaigns.md)
monitor.py    what the gateway calls: observe messages and AUTH, respond, close and undo
"""

from mailward.activity.alerts import Alert, AlertChange, AlertStore
from mailward.activity.baseline import Baselines, MessageObservation, network_of
from mailward.activity.checks import ActivityFinding
from mailward.activity.monitor import ActivityMonitor, account_of
from mailward.activity.notify import Notifier, sign, verify

__all__ = [
    "ActivityFinding",
    "ActivityMonitor",
    "Alert",
    "AlertChange",
    "AlertStore",
    "Baselines",
    "MessageObservation",
    "Notifier",
    "account_of",
    "network_of",
    "sign",
    "verify",
]
