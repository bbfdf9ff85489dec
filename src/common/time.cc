#include "common/time.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace smartcity {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

std::string FormatDate(int64_t days) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char out[32];
  const int n =
      std::snprintf(out, sizeof(out), "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return std::string(out, static_cast<size_t>(n));
}

namespace {

inline void Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

void FormatTimestamp(EventTime t, char* out) {
  const int64_t us = t.time_since_epoch().count();
  int64_t days = us / 86'400'000'000LL;
  int64_t rem = us % 86'400'000'000LL;
  if (rem < 0) {
    rem += 86'400'000'000LL;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  const unsigned yy = static_cast<unsigned>(y < 0 ? 0 : (y > 9999 ? 9999 : y));
  out[0] = static_cast<char>('0' + yy / 1000);
  out[1] = static_cast<char>('0' + yy / 100 % 10);
  out[2] = static_cast<char>('0' + yy / 10 % 10);
  out[3] = static_cast<char>('0' + yy % 10);
  out[4] = '-';
  Put2(out + 5, m);
  out[7] = '-';
  Put2(out + 8, d);
  out[10] = 'T';
  const int64_t secs = rem / 1'000'000;
  unsigned frac = static_cast<unsigned>(rem % 1'000'000);
  Put2(out + 11, static_cast<unsigned>(secs / 3600));
  out[13] = ':';
  Put2(out + 14, static_cast<unsigned>(secs / 60 % 60));
  out[16] = ':';
  Put2(out + 17, static_cast<unsigned>(secs % 60));
  out[19] = '.';
  for (int i = 25; i >= 20; --i) {
    out[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out[26] = 'Z';
}

std::string FormatTimestamp(EventTime t) {
  std::string s(kTimestampLength, '\0');
  FormatTimestamp(t, s.data());
  return s;
}

namespace {

bool ReadDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Result<EventTime> ParseTimestamp(std::string_view s) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "'" + std::string(s) +
        "' is not an ISO-8601 timestamp (expected e.g. 2026-11-21T10:00:45.123456Z)");
  };
  int y, mo, d, h, mi, se;
  if (!ReadDigits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !ReadDigits(s, 5, 2, &mo) ||
      s[7] != '-' || !ReadDigits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !ReadDigits(s, 11, 2, &h) || s[13] != ':' || !ReadDigits(s, 14, 2, &mi) || s[16] != ':' ||
      !ReadDigits(s, 17, 2, &se)) {
    return bad();
  }
  static constexpr int kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kDaysIn[mo - 1] || h > 23 || mi > 59 || se > 60)
    return bad();
  if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return bad();
  size_t pos = 19;
  int64_t frac_us = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) frac_us = frac_us * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (int i = digits; i < 6; ++i) frac_us *= 10;
  }
  int64_t offset_s = 0;
  if (pos < s.size()) {
    if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
      pos++;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh, om;
      const bool colon = pos + 3 < s.size() && s[pos + 3] == ':';
      if (!ReadDigits(s, pos + 1, 2, &oh) || !ReadDigits(s, pos + (colon ? 4 : 3), 2, &om) ||
          pos + (colon ? 6 : 5) != s.size() || oh > 23 || om > 59) {
        return bad();
      }
      offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
      pos = s.size();
    } else {
      return bad();
    }
  }
  if (se == 60) se = 59, frac_us = 999'999;  // leap second: clamp into the minute
  const int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
  return EventTime(Micros(secs * 1'000'000 + frac_us));
}

Result<Micros> ParseDuration(std::string_view s) {
  const std::string orig(s);
  auto bad = [&] {
    return Status::InvalidArgument("'" + orig +
                                   "' is not a duration (use e.g. 250ms, 10s, 2m, 1h30m)");
  };
  if (s.empty()) return bad();
  double total_us = 0;
  bool any = false;
  while (!s.empty()) {
    double v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr == s.data()) return bad();
    if (v < 0 || !std::isfinite(v)) {
      return Status::InvalidArgument("'" + orig + "' is negative: durations must be zero or more");
    }
    s.remove_prefix(static_cast<size_t>(ptr - s.data()));
    double unit = 1e6;  // bare number: seconds
    if (s.starts_with("us"))
      unit = 1, s.remove_prefix(2);
    else if (s.starts_with("ms"))
      unit = 1e3, s.remove_prefix(2);
    else if (s.starts_with("s"))
      unit = 1e6, s.remove_prefix(1);
    else if (s.starts_with("m"))
      unit = 60e6, s.remove_prefix(1);
    else if (s.starts_with("h"))
      unit = 3600e6, s.remove_prefix(1);
    else if (s.starts_with("d"))
      unit = 86400e6, s.remove_prefix(1);
    else if (!s.empty() || any)  // an unknown unit, or a number without one after another ("1h30")
      return bad();
    total_us += v * unit;
    any = true;
  }
  if (total_us > 1e17) return bad();
  return Micros(static_cast<int64_t>(std::llround(total_us)));
}

std::string FormatDuration(Micros d) {
  int64_t us = d.count();
  if (us == 0) return "0s";
  std::string out;
  if (us < 0) out += '-', us = -us;
  if (us < 1'000'000) {
    if (us % 1000 == 0) return out + std::to_string(us / 1000) + "ms";
    return out + std::to_string(us) + "us";
  }
  const int64_t h = us / 3'600'000'000LL;
  const int64_t m = us / 60'000'000 % 60;
  const double s = static_cast<double>(us % 60'000'000) / 1e6;
  char buf[64];
  if (h) std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(h)), out += buf;
  if (m) std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(m)), out += buf;
  if (s > 0) std::snprintf(buf, sizeof buf, "%gs", s), out += buf;
  return out;
}

}  // namespace smartcity
