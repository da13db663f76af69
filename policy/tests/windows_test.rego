# METADATA
# title: Tests for symphony.windows
# description: Window edges, midnight crossing with the start-day mask, and both DST changes in Europe/Berlin.
# related_resources:
#   - ref: https://www.timeanddate.com/time/change/germany/berlin?year=2025
#     description: 2025 DST changes in Berlin (30 March, 26 October)
package symphony.windows_test

import data.symphony.windows

office_hours := [{"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5]}]

friday_night := [{"start": "22:00", "end": "02:00", "days": [5]}]

# Local time in Berlin at an RFC 3339 instant.
berlin(instant) := windows.local_time(time.parse_rfc3339_ns(instant), "Europe/Berlin")

open_at(window_list, instant) if windows.open(window_list, berlin(instant))

test_local_time_is_minutes_and_weekday_in_the_zone if {
	berlin("2025-08-29T08:00:00Z") == {"minute": 600, "day": 5}
}

test_local_time_is_undefined_for_an_unknown_zone if {
	not windows.local_time(0, "Mars/Olympus_Mons")
}

test_office_hours_open_on_friday_morning if {
	open_at(office_hours, "2025-08-29T10:00:00+02:00")
}

test_office_hours_closed_on_saturday_morning if {
	not open_at(office_hours, "2025-08-30T10:00:00+02:00")
}

test_start_is_inclusive if {
	open_at(office_hours, "2025-08-29T09:00:00+02:00")
	not open_at(office_hours, "2025-08-29T08:59:00+02:00")
}

test_end_is_exclusive if {
	open_at(office_hours, "2025-08-29T16:59:00+02:00")
	not open_at(office_hours, "2025-08-29T17:00:00+02:00")
}

test_no_days_means_every_day if {
	every_day := [{"start": "09:00", "end": "17:00"}]
	open_at(every_day, "2025-08-30T10:00:00+02:00")
	open_at(every_day, "2025-08-31T10:00:00+02:00")
}

test_window_crossing_midnight_is_open_on_its_start_day if {
	open_at(friday_night, "2025-08-29T22:00:00+02:00")
	open_at(friday_night, "2025-08-29T23:59:00+02:00")
}

test_window_crossing_midnight_is_open_after_midnight_by_the_start_day if {
	# Saturday 01:00 belongs to the window that started on Friday (day 5).
	open_at(friday_night, "2025-08-30T00:00:00+02:00")
	open_at(friday_night, "2025-08-30T01:00:00+02:00")
}

test_window_crossing_midnight_ends_exclusive if {
	open_at(friday_night, "2025-08-30T01:59:00+02:00")
	not open_at(friday_night, "2025-08-30T02:00:00+02:00")
}

test_window_crossing_midnight_respects_the_day_mask if {
	# Friday 01:00 belongs to Thursday's window; Saturday 23:00 starts Saturday's.
	not open_at(friday_night, "2025-08-29T01:00:00+02:00")
	not open_at(friday_night, "2025-08-30T23:00:00+02:00")
	not open_at(friday_night, "2025-08-29T21:59:00+02:00")
}

test_equal_start_and_end_is_open_all_day if {
	all_day := [{"start": "06:00", "end": "06:00", "days": [1]}]
	open_at(all_day, "2025-08-25T06:00:00+02:00")
	open_at(all_day, "2025-08-26T05:59:00+02:00")
	not open_at(all_day, "2025-08-26T06:00:00+02:00")
	not open_at(all_day, "2025-08-25T05:59:00+02:00")
}

test_any_open_window_opens_the_model if {
	split_day := [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
	open_at(split_day, "2025-08-29T14:00:00+02:00")
	not open_at(split_day, "2025-08-29T12:30:00+02:00")
}

test_dst_start_day_uses_summer_time if {
	# Sunday 2025-03-30: clocks jump from 02:00 CET to 03:00 CEST.
	every_day := [{"start": "09:00", "end": "17:00"}]
	open_at(every_day, "2025-03-30T07:00:00Z") # 09:00 CEST, 08:00 in winter time
	not open_at(every_day, "2025-03-30T15:00:00Z") # 17:00 CEST
	not open_at(every_day, "2025-03-29T07:30:00Z") # 08:30 CET the day before
}

test_dst_start_day_skips_the_missing_hour if {
	missing_hour := [{"start": "02:00", "end": "03:00"}]
	not open_at(missing_hour, "2025-03-30T00:59:00Z") # 01:59 CET
	not open_at(missing_hour, "2025-03-30T01:00:00Z") # 03:00 CEST
	berlin("2025-03-30T01:00:00Z") == {"minute": 180, "day": 0}
}

test_dst_end_day_uses_winter_time if {
	# Sunday 2025-10-26: clocks fall back from 03:00 CEST to 02:00 CET.
	every_day := [{"start": "09:00", "end": "17:00"}]
	open_at(every_day, "2025-10-26T15:30:00Z") # 16:30 CET, 17:30 in summer time
	not open_at(every_day, "2025-10-26T16:00:00Z") # 17:00 CET
	not open_at(every_day, "2025-10-26T07:30:00Z") # 08:30 CET
}

test_dst_end_day_repeats_the_hour if {
	repeated_hour := [{"start": "02:00", "end": "03:00"}]
	open_at(repeated_hour, "2025-10-26T00:30:00Z") # 02:30 CEST
	open_at(repeated_hour, "2025-10-26T01:30:00Z") # 02:30 CET
	not open_at(repeated_hour, "2025-10-26T02:00:00Z") # 03:00 CET
}

test_window_crossing_midnight_over_the_dst_change if {
	saturday_night := [{"start": "22:00", "end": "06:00", "days": [6]}]
	open_at(saturday_night, "2025-03-30T03:59:00Z") # Sunday 05:59 CEST
	not open_at(saturday_night, "2025-03-30T04:00:00Z") # Sunday 06:00 CEST
}

test_closed_when_local_time_is_unknown if {
	not windows.open([{"start": "00:00", "end": "00:00"}], null)
}

test_describe_lists_windows_with_day_names if {
	described := windows.describe([
		{"start": "09:00", "end": "17:00", "days": [5, 1, 2, 3, 4]},
		{"start": "22:00", "end": "02:00"},
	])
	described == "09:00-17:00 Mon,Tue,Wed,Thu,Fri, 22:00-02:00 daily"
}
