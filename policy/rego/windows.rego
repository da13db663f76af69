# METADATA
# title: Symphony usage windows
# description: >-
#   Whether a model's usage windows are open at a given instant, and when the
#   soonest of them opens next. Windows are local wall-clock times in the
#   policy's IANA time zone: start inclusive, end exclusive, an end at or
#   before the start crosses midnight, and `days` (0=Sunday ... 6=Saturday)
#   names the day a window starts on. Daylight saving is left to OPA's time
#   built-ins.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-reference/builtins/time#builtin-time-timeclock
#     description: time.clock, local wall-clock time in a time zone
#   - ref: https://www.openpolicyagent.org/docs/policy-reference/builtins/time#builtin-time-timeweekday
#     description: time.weekday, local day of the week in a time zone
#   - ref: https://www.openpolicyagent.org/docs/policy-reference/builtins/time#builtin-time-timeformat
#     description: time.format, the wall clock in a time zone, from which the UTC offset is read
package symphony.windows

_day_numbers := {
	"Sunday": 0,
	"Monday": 1,
	"Tuesday": 2,
	"Wednesday": 3,
	"Thursday": 4,
	"Friday": 5,
	"Saturday": 6,
}

_second := 1000000000

_minute := 60 * _second

_day := 1440 * _minute

# A wall clock to the second, without a zone: time.parse_ns reads it as UTC.
_layout := "2006-01-02T15:04:05"

# METADATA
# title: Local time
# description: >-
#   The wall-clock time at now_ns in time zone tz, as
#   {"minute": minutes since local midnight, "day": 0=Sunday ... 6=Saturday}.
#   Undefined when tz is not a known IANA zone.
local_time(now_ns, tz) := {"minute": (clock[0] * 60) + clock[1], "day": _day_numbers[weekday]} if {
	clock := time.clock([now_ns, tz])
	weekday := time.weekday([now_ns, tz])
}

# METADATA
# title: Any window open
# description: True when at least one of windows is open at local (a local_time result).
open(windows, local) if {
	some window in windows
	_window_open(window, local)
}

# The window starts today and has not ended yet.
_window_open(window, local) if {
	_on_day(window, local.day)
	_minutes(window.start) <= local.minute
	local.minute < _today_end(window)
}

# A window that crosses midnight and started yesterday.
_window_open(window, local) if {
	_minutes(window.end) <= _minutes(window.start)
	local.minute < _minutes(window.end)
	_on_day(window, (local.day + 6) % 7)
}

# Where today's part of a window ends: its end, or midnight when it crosses it.
_today_end(window) := _minutes(window.end) if {
	_minutes(window.start) < _minutes(window.end)
} else := 1440

_on_day(window, _) if not window.days

_on_day(window, day) if day in window.days

_minutes(hhmm) := (to_number(parts[0]) * 60) + to_number(parts[1]) if {
	parts := split(hhmm, ":")
}

# METADATA
# title: Next opening
# description: >-
#   The soonest instant after now_ns at which one of windows opens in time
#   zone tz, as {"window": that window, "minutes": whole minutes until then,
#   rounded down}; the first window in policy order wins a tie. A window
#   that has just closed counts from its next start, 7 days on for a weekly
#   one. Undefined when tz is not a known IANA zone or no window ever opens.
next_opening(windows, now_ns, tz) := {"window": windows[i], "minutes": minutes} if {
	clock := time.clock([now_ns, tz])
	now := {
		"ns": now_ns,
		"tz": tz,
		"elapsed": ((clock[0] * 3600) + (clock[1] * 60)) + clock[2],
		"day": _day_numbers[time.weekday([now_ns, tz])],
	}

	# [seconds until it, window index] for the next start of every window on
	# each of its days, 1 s to a week ahead on the wall clock. Rego arithmetic
	# is slow, so each costs three operations (two weeks are added to keep the
	# remainder positive).
	waits := [[((_day_seconds[day] + base) % _week_seconds) + 1, i] |
		some i, window in windows
		base := (((_minutes(window.start) * 60) - now.elapsed) - _day_seconds[now.day]) + ((2 * _week_seconds) - 1)
		some day in object.get(window, "days", _every_day)
	]
	[seconds, i] := _soonest(waits, now, windows)
	minutes := floor((seconds - ((now_ns % _second) / _second)) / 60)
}

_every_day := [0, 1, 2, 3, 4, 5, 6]

_week_seconds := 604800

# Seconds from Sunday midnight to midnight on each day.
_day_seconds := [0, 86400, 172800, 259200, 345600, 432000, 518400]

# The soonest [seconds from now, window index] at which a window opens. While
# the zone keeps one UTC offset over the coming 8 days the wall clock is
# exact: the time built-ins are called four times, whatever the windows.
# Otherwise starts go through _openings: the two earliest of each window (a
# change loses one start at most), today's if it came less than the change
# ago (the hour repeated when clocks go back), and those a week on only when
# every one before them is lost to the change.
_soonest(waits, now, windows) := min(waits) if {
	time.format([now.ns, now.tz, "-07:00"]) == time.format([now.ns + (8 * _day), now.tz, "-07:00"])
} else := min(openings) if {
	change := _change(now)
	earliest := _changed_openings(_two_earliest(waits), now, windows, change, 0)
	openings := array.concat(earliest, _changed_openings(waits, now, windows, change, 0 - _week_seconds))
	count(openings) > 0
} else := min(_changed_openings(waits, now, windows, _change(now), _week_seconds))

# The offset change ahead: the clock every start is counted from, and the
# shifts in seconds from now's offset, {0, 3600} or {0, -3600}.
_change(now) := {"clock": clock, "shifts": {0, _shift(clock, now.elapsed + (8 * 86400))}} if {
	clock := _clock(now)
}

# The two earliest of each window's [wait, window index] in waits.
_two_earliest(waits) := [[wait, i] |
	some i in {i | some [_, i] in waits}
	some wait in array.slice(sort([wait | some [wait, j] in waits; j == i]), 0, 2)
]

# [seconds from now, window index] of every opening from the starts in waits
# moved by week seconds, across change. A start can only open after now if it
# is later than now by the wall clock, or earlier by less than the clocks go
# back.
_changed_openings(waits, now, windows, change, week) := [[seconds - now.elapsed, i] |
	some [wait, i] in waits
	wall := (now.elapsed + wait) + week
	wall > now.elapsed + min(change.shifts)
	some seconds in _openings(windows[i], wall, change.shifts, change.clock)
	seconds > now.elapsed
]

# Local midnight today as an instant, had the offset not changed since, with
# the zone and now's UTC offset: what every start is counted from.
_clock(now) := {"midnight": truncated - (now.elapsed * _second), "offset": offset, "tz": now.tz} if {
	truncated := now.ns - (now.ns % _second)
	offset := _wall(truncated, now.tz) - truncated
}

# The wall clock at instant ns in tz, as nanoseconds read as UTC: its days
# start at local midnight and time.weekday on it gives the local weekday.
_wall(ns, tz) := time.parse_ns(_layout, time.format([ns, tz, _layout]))

# How the UTC offset at clock.midnight + seconds differs from now's, in seconds.
_shift(clock, seconds) := ((_wall(instant, clock.tz) - instant) - clock.offset) / _second if {
	instant := clock.midnight + (seconds * _second)
}

# When window opens, in seconds after clock.midnight, on the day its start
# reads wall seconds after midnight: the instants the clock shows it (two in
# the hour repeated when clocks go back), else, when the start falls in the
# hour skipped when clocks go forward, the moment they jump if the window is
# open then.
_openings(window, wall, shifts, clock) := instants if {
	instants := {(wall - shift) | some shift in shifts; _shift(clock, wall - shift) == shift}
	count(instants) > 0
} else := {jump} if {
	jump := min({seconds |
		some step in numbers.range(1, (max(shifts) - min(shifts)) / 60)
		seconds := (wall - max(shifts)) + (step * 60)
		_shift(clock, seconds) == max(shifts)
	})
	_window_open(window, local_time(clock.midnight + (jump * _second), clock.tz))
}

# METADATA
# title: Describe days
# description: >-
#   The days a window starts on, Monday first, consecutive days as a range
#   with an en dash: "Mon–Fri", "Sat–Sun", "Mon, Wed, Fri", "daily" (no days,
#   or all seven), "no day" (none of 0 ... 6 listed).
days(window) := "daily" if {
	not window.days
} else := _describe_positions({_position(day) | some day in window.days})

# A day's place in a week read Monday first (Monday 0 ... Sunday 6), so that
# a weekend is "Sat–Sun"; undefined for anything but 0 ... 6.
_position(day) := {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 0: 6}[day]

_describe_positions(positions) := "daily" if {
	count(positions) == 7
} else := "no day" if {
	count(positions) == 0
} else := concat(", ", [_range(first, last) |
	some first in sort(positions)
	not (first - 1) in positions
	last := min({i | some i in positions; i >= first; not (i + 1) in positions})
])

_range(first, last) := _day_name(first) if {
	first == last
} else := sprintf("%s–%s", [_day_name(first), _day_name(last)])

_day_name(position) := ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][position]

# METADATA
# title: Describe a wait
# description: >-
#   Minutes for humans, rounded down to the largest two units: "under 1 min",
#   "45 min", "2 h 13 min", "2 h", "1 d 3 h", "3 d".
duration(minutes) := "under 1 min" if {
	minutes < 1
} else := sprintf("%d min", [minutes]) if {
	minutes < 60
} else := _two_units(floor(minutes / 60), "h", minutes % 60, "min") if {
	minutes < 1440
} else := _two_units(floor(minutes / 1440), "d", floor((minutes % 1440) / 60), "h")

_two_units(major, major_unit, 0, _) := sprintf("%d %s", [major, major_unit])

_two_units(major, major_unit, minor, minor_unit) := sprintf("%d %s %d %s", [major, major_unit, minor, minor_unit]) if {
	minor > 0
}

# METADATA
# title: Describe windows
# description: 'A human summary of windows, e.g. "09:00–17:00 Mon–Fri, 22:00–02:00 daily".'
describe(windows) := concat(", ", [_describe_window(window) | some window in windows])

_describe_window(window) := sprintf("%s–%s %s", [window.start, window.end, days(window)])
