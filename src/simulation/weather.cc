#include "simulation/weather.h"

#include <algorithm>
#include <cmath>

#include "simulation/rng.h"

namespace smartcity::simulation {

namespace {

constexpr int64_t kMicrosPerHour = 3'600'000'000LL;

// Last Sunday of a month, as days since the epoch.
int64_t LastSunday(int64_t year, unsigned month) {
  const unsigned next_month = month == 12 ? 1 : month + 1;
  const int64_t next_year = month == 12 ? year + 1 : year;
  const int64_t last_day = DaysFromCivil(next_year, next_month, 1) - 1;
  const int64_t weekday = ((last_day % 7) + 7 + 3) % 7;  // 0 = Monday (1970-01-01 was a Thursday)
  return last_day - ((weekday + 1) % 7);
}

double Smooth(double t) {
  return t * t * (3 - 2 * t);
}

}  // namespace

double UkLocalHour(EventTime t, int* weekday) {
  int64_t us = t.time_since_epoch().count();
  int64_t days = us >= 0 ? us / 86'400'000'000LL : (us - 86'399'999'999LL) / 86'400'000'000LL;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  // British Summer Time: from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday
  // of October.
  const int64_t bst_start = LastSunday(y, 3) * 86'400'000'000LL + kMicrosPerHour;
  const int64_t bst_end = LastSunday(y, 10) * 86'400'000'000LL + kMicrosPerHour;
  if (us >= bst_start && us < bst_end) us += kMicrosPerHour;
  days = us >= 0 ? us / 86'400'000'000LL : (us - 86'399'999'999LL) / 86'400'000'000LL;
  if (weekday != nullptr) *weekday = static_cast<int>(((days % 7) + 7 + 3) % 7);
  const int64_t in_day = us - days * 86'400'000'000LL;
  return static_cast<double>(in_day) / static_cast<double>(kMicrosPerHour);
}

double RushHourIntensity(EventTime t) {
  int weekday = 0;
  const double h = UkLocalHour(t, &weekday);
  if (weekday >= 5) return 0;
  auto window = [h](double from, double to) {
    if (h < from - 0.5 || h > to + 0.5) return 0.0;
    if (h < from) return Smooth((h - (from - 0.5)) / 0.5);
    if (h > to) return Smooth(((to + 0.5) - h) / 0.5);
    return 1.0;
  };
  return std::max(window(7, 9), window(17, 19));
}

double WeatherField::Noise(int channel, double lat, double lon, double hours) const {
  // Value noise on a lattice of 0.25 deg x 0.35 deg x 3 h with smoothstep interpolation.
  const double x = lat / 0.25, y = lon / 0.35, z = hours / 3.0;
  const double fx = std::floor(x), fy = std::floor(y), fz = std::floor(z);
  const double tx = Smooth(x - fx), ty = Smooth(y - fy), tz = Smooth(z - fz);
  const auto ix = static_cast<int64_t>(fx), iy = static_cast<int64_t>(fy),
             iz = static_cast<int64_t>(fz);
  auto corner = [&](int64_t a, int64_t b, int64_t c) {
    const uint64_t h =
        HashMix(seed_ * 31 + static_cast<uint64_t>(channel), static_cast<uint64_t>(a),
                static_cast<uint64_t>(b), static_cast<uint64_t>(c));
    return static_cast<double>(h >> 11) * 0x1.0p-52 - 1.0;
  };
  auto lerp = [](double a, double b, double t) { return a + (b - a) * t; };
  const double c00 = lerp(corner(ix, iy, iz), corner(ix + 1, iy, iz), tx);
  const double c10 = lerp(corner(ix, iy + 1, iz), corner(ix + 1, iy + 1, iz), tx);
  const double c01 = lerp(corner(ix, iy, iz + 1), corner(ix + 1, iy, iz + 1), tx);
  const double c11 = lerp(corner(ix, iy + 1, iz + 1), corner(ix + 1, iy + 1, iz + 1), tx);
  return lerp(lerp(c00, c10, ty), lerp(c01, c11, ty), tz);
}

double Urbanness(LatLon p) {
  struct City {
    LatLon centre;
    double core_m;  // fully urban within
    double edge_m;  // rural beyond
  };
  static constexpr City kCities[] = {{{51.5074, -0.1278}, 7'000, 13'000},
                                     {{52.4862, -1.8904}, 6'000, 12'000}};
  double u = 0;
  for (const City& c : kCities) {
    // Cheap early out on the hot path: more than ~14 km north-south or east-west is rural.
    if (std::abs(p.lat - c.centre.lat) > 0.13 || std::abs(p.lon - c.centre.lon) > 0.21) continue;
    const double d = HaversineMetres(p, c.centre);
    u = std::max(u, Smooth(std::clamp((c.edge_m - d) / (c.edge_m - c.core_m), 0.0, 1.0)));
  }
  return u;
}

WeatherReading WeatherField::At(LatLon p, EventTime t, double rush) const {
  const double hours =
      static_cast<double>(t.time_since_epoch().count()) / static_cast<double>(kMicrosPerHour);
  return At(p, hours, UkLocalHour(t, nullptr), rush);
}

WeatherReading WeatherField::At(LatLon p, double hours, double local_hour, double rush) const {
  const double urban = Urbanness(p);
  const double day_of_year = std::fmod(hours / 24.0, 365.2425);
  // Central England: ~4.5 C mean in mid-January, ~17 C in mid-July; +-4 C from dawn to
  // mid-afternoon.
  const double seasonal = 10.8 - 6.3 * std::cos(2 * M_PI * (day_of_year - 15) / 365.2425);
  const double diurnal = -4.0 * std::cos(2 * M_PI * (local_hour - 3) / 24.0);
  const double cloud = 0.5 + 0.5 * Noise(1, p.lat, p.lon, hours);      // 0..1
  const double wet = 0.5 + 0.5 * Noise(2, p.lat, p.lon, hours * 1.7);  // rain potential 0..1
  const double windy = 0.5 + 0.5 * Noise(3, p.lat, p.lon, hours);
  const double damp = Noise(4, p.lat, p.lon, hours);
  WeatherReading r{};
  // Clouds damp the diurnal swing; the north of the route is a little cooler; urban heat island.
  r.temperature_c = seasonal + diurnal * (1.0 - 0.6 * cloud) - 0.9 * (p.lat - 51.5) +
                    2.5 * Noise(5, p.lat, p.lon, hours) + 0.8 * urban;
  r.precipitation_mm_h =
      (cloud > 0.55 && wet > 0.62) ? std::min(25.0, (wet - 0.62) * 30.0 * cloud) : 0.0;
  // Below what a gauge reports (and what the 1-decimal output shows) it is not raining: without
  // this a reading could say "Cloudy" with 0.1 mm/h.
  if (r.precipitation_mm_h < 0.1) r.precipitation_mm_h = 0;
  r.wind_speed_kmh = 4.0 + 38.0 * windy * windy;
  double humidity = 72 + 14 * damp + 12 * cloud + (r.precipitation_mm_h > 0 ? 8 : 0) -
                    0.6 * std::max(0.0, r.temperature_c - 15);
  r.humidity_pct = static_cast<int>(std::lround(std::clamp(humidity, 30.0, 100.0)));
  if (r.precipitation_mm_h >= 0.1) {
    r.condition = r.temperature_c <= 1.0 ? WeatherCondition::kSnow : WeatherCondition::kRain;
  } else if (r.humidity_pct >= 94 && r.wind_speed_kmh < 12) {
    r.condition = WeatherCondition::kFog;
  } else if (cloud > 0.6) {
    r.condition = WeatherCondition::kCloudy;
  } else {
    r.condition = WeatherCondition::kSunny;
  }
  // Air quality: worse in towns, in rush hours and in still air; rain washes it out.
  double aqi = 22 + 18 * (0.5 + 0.5 * Noise(6, p.lat, p.lon, hours)) + 30 * urban + 25 * rush +
               25 * std::max(0.0, 0.5 - windy) - (r.precipitation_mm_h > 0 ? 10 : 0);
  r.air_quality_index = static_cast<int>(std::lround(std::clamp(aqi, 5.0, 300.0)));
  return r;
}

}  // namespace smartcity::simulation
