"""The activity package as the console reaches it: the alert monitor and the campaigns.

Inside the running gateway the console is given the gateway's own
:class:`~mailward.activity.monitor.ActivityMonitor` and
:class:`~mailward.activity.campaigns.Campaigns`, so an alert closed here restores the lockdown
the gateway reads and a campaign marked bad here quarantines its next members at once. Alone
(tests, a console without a gateway) it opens its own on first use, as the CLI commands do,
and closes them with the app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from mailward.activity.campaigns import Campaigns
from mailward.activity.monitor import ActivityMonitor
from mailward.config.settings import Settings
from mailward.response.journal import Journal
from mailward.response.lockdown import LockdownState
from mailward.store import Store


@dataclass
class ActivityAccess:
    """The monitor and campaigns the routes use, given or opened lazily."""

    settings: Settings
    store: Store
    given_monitor: ActivityMonitor | None = None
    given_campaigns: Campaigns | None = None
    _monitor: ActivityMonitor | None = None
    _campaigns: Campaigns | None = None
    _lockdown: LockdownState | None = None
    _journal: Journal | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def monitor(self) -> ActivityMonitor:
        """The alerts' monitor (the gateway's, else one of our own with the lockdown state)."""
        if self.given_monitor is not None:
            return self.given_monitor
        with self._lock:
            if self._monitor is None:
                self._lockdown = LockdownState(self.settings.store_url, cache_seconds=0.0)
                self._monitor = ActivityMonitor(self.settings, self.store, self._lockdown)
            return self._monitor

    def campaigns(self) -> Campaigns:
        """The campaigns (the gateway's, else our own, with the journal for the claw-back and
        the monitor for the alert when those are enabled, as `mailward campaigns` has)."""
        if self.given_campaigns is not None:
            return self.given_campaigns
        monitor = (self.given_monitor or self.monitor()) if self.settings.activity.enabled \
            else None
        with self._lock:
            if self._campaigns is None:
                if self.settings.journal.enabled:
                    self._journal = Journal(self.settings.store_url)
                self._campaigns = Campaigns(self.settings, self.store, self._journal, monitor)
            return self._campaigns

    def close(self) -> None:
        """Close what was opened here (never the gateway's)."""
        with self._lock:
            if self._monitor is not None:
                self._monitor.notifier.join(5.0)
                self._monitor.close()
            for part in (self._campaigns, self._journal, self._lockdown):
                if part is not None:
                    part.close()
            self._monitor = self._campaigns = self._journal = self._lockdown = None
