"""A seeded generator of an organisation's ordinary internal mail, with a realistic rhythm:
working hours (a morning and an afternoon peak, a lunch dip, early and late people),
weekdays busy and weekends nearly quiet, per-person volume (log-normal: most people a few
messages a day, a few managers many), teams, replies to mail received, a weekly team
announcement, external partners, logins from the office, from home, and from phones on mobile
networks, and the odd mistyped password.

It yields events in time order: ("auth", login, ip, ok, at) and ("mail", login, ip,
recipients, at). Nothing here is an attack.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

HOUR = 3600.0
DAY = 86400.0
#: Relative chance of sending in each hour of a working day (07:00 to 19:00).
WORKING_HOURS = {7: 1, 8: 4, 9: 9, 10: 10, 11: 8, 12: 4, 13: 6, 14: 9, 15: 9, 16: 7, 17: 4,
                 18: 2}
PARTNERS = ("partner.example.net", "supplier.example.org", "client.example.co.uk",
            "lawfirm.example.de", "bank.example.fr")

Event = tuple[object, ...]


@dataclass
class Person:
    address: str
    team: int
    per_day: float
    shift: int  # hours earlier (-1) or later (+1) than the usual rhythm
    office: str
    home: str
    remote_days: float  # share of days worked from home
    mobile: bool
    lead: bool
    externals: list[str] = field(default_factory=list)
    inbox: list[str] = field(default_factory=list)


def _people(rng: random.Random, count: int, team_size: int) -> list[Person]:
    people = []
    for i in range(count):
        team = i // team_size
        people.append(Person(
            address=f"user{i}@example.com", team=team,
            per_day=min(60.0, rng.lognormvariate(2.0, 0.7)), shift=rng.choice((-1, 0, 0, 1)),
            office=f"10.{team}.0.{rng.randint(2, 250)}",
            home=f"192.168.{i % 250}.{rng.randint(2, 250)}",
            remote_days=rng.choice((0.0, 0.2, 0.4)), mobile=rng.random() < 0.15,
            lead=i % team_size == 0,
            externals=[f"contact{rng.randint(1, 40)}@{rng.choice(PARTNERS)}"
                       for _ in range(rng.randint(0, 5))],
        ))
    return people


def _send_times(rng: random.Random, person: Person, day_start: float, count: int) -> list[float]:
    hours = list(WORKING_HOURS)
    weights = [WORKING_HOURS[h] for h in hours]
    return sorted(day_start + (rng.choices(hours, weights)[0] + person.shift) * HOUR
                  + rng.random() * HOUR for _ in range(count))


def _recipients(rng: random.Random, p: Person, people: list[Person]) -> list[str]:
    team = [q.address for q in people if q.team == p.team and q is not p]
    roll = rng.random()
    if roll < 0.45 and p.inbox:  # a reply to someone who wrote lately
        return [rng.choice(p.inbox[-30:])]
    if roll < 0.80:
        return rng.sample(team, min(len(team), rng.choice((1, 1, 1, 2, 2, 3, 4))))
    if roll < 0.93 or not p.externals:
        others = [q.address for q in people if q.team != p.team]
        return rng.sample(others, rng.choice((1, 1, 2)))
    return [rng.choice(p.externals)]


def normal_mail(seed: int = 1, people: int = 120, days: int = 14, team_size: int = 10,
                start: float = 1_798_416_000.0) -> Iterator[Event]:
    """Events of ``days`` days from ``start`` (a Monday, 00:00 UTC), in time order."""
    rng = random.Random(seed)
    staff = _people(rng, people, team_size)
    by_address = {p.address: p for p in staff}
    for day in range(days):
        day_start = start + day * DAY
        weekend = day % 7 >= 5
        events: list[Event] = []
        for p in staff:
            if weekend and rng.random() > 0.08:
                continue
            count = rng.randint(1, 3) if weekend else max(0, round(rng.gauss(p.per_day,
                                                                             p.per_day / 3)))
            if count == 0:
                continue
            ip = p.home if weekend or rng.random() < p.remote_days else p.office
            times = _send_times(rng, p, day_start, count)
            events += _logins(rng, p, ip, times[0] - rng.random() * 1800)
            if p.mobile and rng.random() < 0.5:  # a phone on a carrier network, new each day
                phone = f"100.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                events += _logins(rng, p, phone, times[-1] - rng.random() * 3600)
            for at in times:
                events.append(("mail", p.address, ip, _recipients(rng, p, staff), at))
            if p.lead and day % 7 == 0:  # Monday's note to the team
                team = [q.address for q in staff if q.team == p.team and q is not p]
                events.append(("mail", p.address, ip, team, day_start + 9.5 * HOUR))
        events.sort(key=lambda e: float(e[-1]))  # type: ignore[arg-type]
        for event in events:
            if event[0] == "mail":
                for rcpt in event[3]:  # type: ignore[union-attr]
                    if rcpt in by_address:
                        by_address[rcpt].inbox.append(str(event[1]))
            yield event


def _logins(rng: random.Random, p: Person, ip: str, at: float) -> list[Event]:
    out: list[Event] = []
    if rng.random() < 0.03:  # a mistyped password or two
        out += [("auth", p.address, ip, False, at - 20 + n) for n in range(rng.randint(1, 2))]
    out.append(("auth", p.address, ip, True, at))
    return out
