# METADATA
# title: Symphony usage windows
# description: >-
#   Whether a model's usage windows are open at a given instant. Windows are
#   local wall-clock times in the policy's IANA time zone: start inclusive,
#   end exclusive, an end at or before the start crosses midnight, and
#   `days` (0=Sunday ... 6=Saturday) names the day a window starts on.
#   Daylight saving is left to OPA's time built-ins.
# related_resources:
#   - ref: https://www.openpolicyagent.org/docs/policy-reference/builtins/time#builtin-time-timeclock
#     description: time.clock, local wall-clock time in a time zone
#   - ref: https://www.openpolicyagent.org/docs/policy-reference/builtins/time#builtin-time-timeweekday
#     description: time.weekday, local day of the week in a time zone
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

_day_names := ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

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
# title: Describe windows
# description: 'A human summary of windows, e.g. "09:00-17:00 Mon,Tue,Wed,Thu,Fri, 22:00-02:00 daily".'
describe(windows) := concat(", ", [_describe_window(window) | some window in windows])

_describe_window(window) := sprintf("%s-%s %s", [window.start, window.end, _describe_days(window)])

_describe_days(window) := concat(",", [_day_names[day] | some day in sort(window.days)]) if {
	window.days
} else := "daily"
