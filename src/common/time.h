// Time types. Event time (when a thing happened in the city), wall-clock time (when, by the system
// clock, this process did something: received a record, finished a commit) and processing time (a
// monotonic clock, for durations and deadlines) are three types that never mix implicitly: adding,
// comparing or assigning one to another does not compile. Durations are std::chrono types, never
// bare integers. Clocks are read through common/clock.h only.
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

// The system clock as a clock of its own, so that its time points are not EventTimes. UTC, Unix
// epoch, microseconds. Read it through Clock::WallNow() (common/clock.h); now() is SystemClock's.
struct WallClock {
  using rep = int64_t;
  using period = std::micro;
  using duration = Micros;
  using time_point = std::chrono::time_point<WallClock, Micros>;
  static constexpr bool is_steady = false;
  static time_point now() noexcept {
    return time_point(
        std::chrono::duration_cast<Micros>(std::chrono::system_clock::now().time_since_epoch()));
  }
};
// Wall-clock time: when this process did something, by the system clock (UTC, microseconds).
using WallTime = WallClock::time_point;

// The explicit conversions, where a wall time legitimately becomes a timestamp value (a dead
// letter's receivedAt, a commit's time in a table): the same instant on the same (Unix) epoch.
constexpr EventTime AsEventTime(WallTime t) {
  return EventTime(t.time_since_epoch());
}
constexpr WallTime AsWallTime(EventTime t) {
  return WallTime(t.time_since_epoch());
}

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
