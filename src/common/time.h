// Time types. Event time (when a thing happened in the city) and processing time (when this process
// saw it) are different types and never mixed; durations are std::chrono types, never bare
// integers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace smartcity {

using Micros = std::chrono::microseconds;
// Event time: UTC, microsecond precision, as carried in every event's `timestamp`.
using EventTime = std::chrono::sys_time<Micros>;
// Processing time: a monotonic clock of this process; used for pacing, timeouts and idleness.
using ProcessingTime = std::chrono::steady_clock::time_point;

// Length of "2026-11-21T10:00:45.123456Z".
inline constexpr size_t kTimestampLength = 27;

// Writes the ISO-8601 UTC form with microseconds and 'Z' to out[0..27). Years 0000-9999.
void FormatTimestamp(EventTime t, char* out);
std::string FormatTimestamp(EventTime t);

// Parses ISO-8601: "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)", also with a space for 'T'.
// A missing zone means UTC.
Result<EventTime> ParseTimestamp(std::string_view s);

// Parses "250ms", "10s", "2m", "1h30m", "1d", "1.5s", or a bare number of seconds. Negative values
// are refused (nothing in this product runs backwards).
Result<Micros> ParseDuration(std::string_view s);
// "1h02m03s", "2m", "150ms": the short form that ParseDuration reads back.
std::string FormatDuration(Micros d);

// Days since 1970-01-01 for a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d);
// "2026-01-05" for days since 1970-01-01 (a LogicalType::kDate value).
std::string FormatDate(int64_t days);

}  // namespace smartcity
