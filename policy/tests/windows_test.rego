# METADATA
# title: Tests for symphony.windows
# description: >-
#   Window edges, midnight crossing with the start-day mask, both DST changes
#   in Europe/Berlin, the next opening, and the day and duration sentences.
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

test_describe_lists_windows_with_day_ranges if {
	described := windows.describe([
		{"start": "09:00", "end": "17:00", "days": [5, 1, 2, 3, 4]},
		{"start": "22:00", "end": "02:00"},
	])
	described == "09:00–17:00 Mon–Fri, 22:00–02:00 daily"
}

# ---- days ----------------------------------------------------------------

test_days_compress_into_en_dash_ranges_monday_first if {
	windows.days({"days": [5, 1, 2, 3, 4]}) == "Mon–Fri"
	windows.days({"days": [0, 6]}) == "Sat–Sun"
	windows.days({"days": [0, 1, 2, 4, 5, 6]}) == "Mon–Tue, Thu–Sun"
	windows.days({"days": [5, 6, 0, 1]}) == "Mon, Fri–Sun"
}

test_days_apart_are_listed if {
	windows.days({"days": [1, 3, 5]}) == "Mon, Wed, Fri"
	windows.days({"days": [3]}) == "Wed"
}

test_every_day_is_daily if {
	windows.days({"start": "09:00", "end": "17:00"}) == "daily"
	windows.days({"days": [6, 5, 4, 3, 2, 1, 0]}) == "daily"
}

test_no_valid_day_is_named if {
	windows.days({"days": []}) == "no day"
	windows.days({"days": [7]}) == "no day"
}

# ---- duration ------------------------------------------------------------

test_duration_under_an_hour_is_minutes if {
	windows.duration(0) == "under 1 min"
	windows.duration(1) == "1 min"
	windows.duration(45) == "45 min"
	windows.duration(59) == "59 min"
}

test_duration_under_a_day_is_hours_and_minutes if {
	windows.duration(60) == "1 h"
	windows.duration(133) == "2 h 13 min"
	windows.duration(1439) == "23 h 59 min"
}

test_duration_from_a_day_is_days_and_hours if {
	windows.duration(1440) == "1 d"
	windows.duration(1620) == "1 d 3 h"
	windows.duration(1679) == "1 d 3 h"
	windows.duration(9840) == "6 d 20 h"
}

# ---- next opening --------------------------------------------------------

# The next opening of window_list at an RFC 3339 instant, in Berlin.
next_at(window_list, instant) := windows.next_opening(window_list, time.parse_rfc3339_ns(instant), "Europe/Berlin")

every_morning := [{"start": "09:00", "end": "17:00"}]

test_next_opening_later_today if {
	next_at(office_hours, "2025-08-29T06:47:00+02:00") == {"window": office_hours[0], "minutes": 133}
}

test_next_opening_after_the_weekend if {
	# Saturday 10:00 to Monday 09:00.
	next_at(office_hours, "2025-08-30T10:00:00+02:00") == {"window": office_hours[0], "minutes": 2820}
}

test_next_opening_after_todays_window_is_tomorrow if {
	next_at(office_hours, "2025-08-28T17:00:00+02:00") == {"window": office_hours[0], "minutes": 960}
}

test_next_opening_rounds_down_to_whole_minutes if {
	next_at(office_hours, "2025-08-29T08:15:30.5+02:00") == {"window": office_hours[0], "minutes": 44}
	next_at(office_hours, "2025-08-29T08:59:59.999+02:00") == {"window": office_hours[0], "minutes": 0}
}

test_next_opening_is_the_soonest_of_several_windows if {
	split_day := [
		{"start": "20:00", "end": "23:00"},
		{"start": "13:00", "end": "14:00", "days": [1, 3, 5]},
		{"start": "09:00", "end": "12:00", "days": [6, 0]},
	]
	next_at(split_day, "2025-08-29T12:30:00+02:00") == {"window": split_day[1], "minutes": 30}
	next_at(split_day, "2025-08-29T14:30:00+02:00") == {"window": split_day[0], "minutes": 330}
	next_at(split_day, "2025-08-29T23:30:00+02:00") == {"window": split_day[2], "minutes": 570}
}

test_next_opening_tie_goes_to_the_first_window if {
	twins := [{"start": "09:00", "end": "10:00"}, {"start": "09:00", "end": "17:00", "days": [6]}]
	next_at(twins, "2025-08-30T08:00:00+02:00") == {"window": twins[0], "minutes": 60}
}

test_next_opening_of_a_window_crossing_midnight if {
	# Friday 22:00 to Saturday 02:00: from Friday 21:00 it opens in an hour...
	next_at(friday_night, "2025-08-29T21:00:00+02:00") == {"window": friday_night[0], "minutes": 60}

	# ...and once it has closed on Saturday 02:00, next Friday 22:00.
	next_at(friday_night, "2025-08-30T02:00:00+02:00") == {"window": friday_night[0], "minutes": 9840}
}

test_next_opening_before_the_spring_change_is_an_hour_shorter if {
	# Saturday 29 March 2025 22:00 CET to Sunday 09:00 CEST: 10 h, the wall clock says 11.
	next_at(every_morning, "2025-03-29T22:00:00+01:00") == {"window": every_morning[0], "minutes": 600}
}

test_next_opening_before_the_autumn_change_is_an_hour_longer if {
	# Saturday 25 October 2025 22:00 CEST to Sunday 09:00 CET: 12 h, the wall clock says 11.
	next_at(every_morning, "2025-10-25T22:00:00+02:00") == {"window": every_morning[0], "minutes": 720}
}

test_next_opening_in_the_skipped_hour_is_when_the_clocks_jump if {
	# 02:30 does not exist on 30 March 2025: the window opens at 03:00 CEST, 2 h after 00:00 CET.
	night := [{"start": "02:30", "end": "04:00"}]
	next_at(night, "2025-03-30T00:00:00+01:00") == {"window": night[0], "minutes": 120}
}

test_next_opening_skips_a_window_lost_to_the_spring_change if {
	# 02:00-03:00 never opens on 30 March 2025; next 31 March 02:00 CEST, 25 h after 00:00 CET.
	missing_hour := [{"start": "02:00", "end": "03:00"}]
	next_at(missing_hour, "2025-03-30T00:00:00+01:00") == {"window": missing_hour[0], "minutes": 1500}
}

test_next_opening_of_a_weekly_window_lost_to_the_spring_change_is_a_week_on if {
	# Sunday 02:00-03:00 never opens on 30 March 2025; from Saturday 12:00 CET, 6 April 02:00 CEST.
	sunday_night := [{"start": "02:00", "end": "03:00", "days": [0]}]
	next_at(sunday_night, "2025-03-29T12:00:00+01:00") == {"window": sunday_night[0], "minutes": 10860}
}

test_next_opening_in_the_repeated_hour_is_its_second_time if {
	# 26 October 2025: 02:30-02:45 closes at 02:45 CEST and opens again at 02:30 CET.
	repeated := [{"start": "02:30", "end": "02:45"}]
	next_at(repeated, "2025-10-26T02:50:00+02:00") == {"window": repeated[0], "minutes": 40}
}

test_next_opening_is_undefined_for_an_unknown_zone if {
	not windows.next_opening(office_hours, time.parse_rfc3339_ns("2025-08-30T10:00:00+02:00"), "Mars/Olympus_Mons")
}

test_next_opening_is_undefined_for_a_window_on_no_day if {
	not next_at([{"start": "09:00", "end": "17:00", "days": []}], "2025-08-30T10:00:00+02:00")
}
