"""Periods as a caller writes them, for the schemathesis hooks (hooks.py).

A period relates two values (or one and the clock), which no JSON Schema
states: the document says it in words, and a caller keeps to it. These
functions make a generated valid case keep to it too, reusing the generated
values and the forms they were written in wherever they already fit.
"""

from datetime import date, datetime, timedelta, timezone
import re


def period_forward(params, max_days, from_past=False):
    """`from` before `to` (now, when absent) and at most max_days before it
    (and, with from_past, not after now).

    A reversed pair is swapped; a `from` still out of bounds moves to 30 days
    before the end, written in the generated one's style (date or time).
    """
    if not isinstance(params, dict) or params.get("from") is None:
        return
    (lo, style), now = when(params["from"]), datetime.now(timezone.utc)
    hi = when(params["to"])[0] if params.get("to") is not None else now
    if lo is None or hi is None:
        return
    if params.get("to") is not None and lo > hi:
        params["from"], params["to"] = params["to"], params["from"]
        (lo, style), hi = when(params["from"]), when(params["to"])[0]
    if from_past:
        hi = min(hi, now)
    if lo < hi and hi - lo <= timedelta(days=max_days):
        return
    try:
        start = hi - timedelta(days=30)
    except OverflowError:
        del params["from"]
        return
    params["from"] = written(start.date(), style)


DATE_STYLES = ("%d/%m/%Y", "%Y-%m-%d")


def when(value, end=False):
    """A generated date or time as the API reads it: (instant, style), or
    (None, style). A naive time is taken as UTC: near enough for a period."""
    text = value.strip() if isinstance(value, str) else ""
    if re.fullmatch(r"\d{2}/\d{2}/\d{4}", text):
        style, parse = "%d/%m/%Y", lambda t: datetime.strptime(t, "%d/%m/%Y")
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        style, parse = "%Y-%m-%d", lambda t: datetime.strptime(t, "%Y-%m-%d")
    elif re.search(r"([Zz]|[+-]\d{2}:\d{2})$", text):
        style, parse = "offset", lambda t: datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", t))
    else:
        style, parse = "%Y-%m-%dT%H:%M", datetime.fromisoformat
    try:
        moment = parse(text)
    except (TypeError, ValueError):
        return None, style
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    # A date alone, as an end, is the whole day: it ends at the next midnight.
    if end and style in DATE_STYLES:
        moment += timedelta(days=1)
    return moment, style


def written(day, style, end=False):
    """Midnight of `day` (a date alone, as an end, is that whole day) in the style."""
    if style in DATE_STYLES:
        return day.strftime(style)
    moment = datetime.combine(day + timedelta(days=1 if end else 0), datetime.min.time())
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if style == "offset" else moment.strftime(style)


def real_periods(readings):
    """Each reading's period real, in order, at most 367 days, past, and its own.

    The generated dates are any of the accepted forms with any year; a pair
    the reader would refuse (or one already used) is replaced by a day in
    the past, written in the forms that were generated.
    """
    now = datetime.now(timezone.utc)
    seen = set()
    for i, reading in enumerate(readings):
        if not isinstance(reading, dict):
            continue
        (start, start_style), (end, end_style) = when(reading.get("start")), when(reading.get("end"), True)
        key = (reading.get("type"), start, end)
        fine = start and end and start < end and end - start <= timedelta(days=367) and end <= now + timedelta(days=1)
        if not fine or key in seen:
            day = date.today() - timedelta(days=3 + i)
            reading["start"], reading["end"] = written(day, start_style), written(day, end_style, True)
            start, end = when(reading["start"])[0], when(reading["end"], True)[0]
        seen.add((reading.get("type"), start, end))
