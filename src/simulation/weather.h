// WeatherField: regional weather over southern England as smooth fields of space and time.
//
// Temperature follows season and time of day and cools northwards; cloud, rain potential, wind and
// humidity are smooth value-noise fields (lattice of ~25 km and 3 h, seeded), so two vehicles a few
// kilometres apart see nearly the same weather and one vehicle sees it change gradually. The
// condition (Sunny/Cloudy/Rain/Snow/Fog) is derived from the fields, never drawn independently per
// reading.
//
// Thread-safety: immutable after construction.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/time.h"
#include "model/schema.h"
#include "simulation/route.h"

namespace smartcity::simulation {

// The condition values and their names are the model's (model/schema.h).
using WeatherCondition = model::WeatherCondition;
constexpr std::string_view WeatherConditionName(WeatherCondition c) {
  return model::NameOf(c);
}

struct WeatherReading {
  double temperature_c;
  WeatherCondition condition;
  double precipitation_mm_h;
  double wind_speed_kmh;
  int humidity_pct;
  int air_quality_index;  // US EPA scale, 0-500
};

class WeatherField {
 public:
  explicit WeatherField(uint64_t seed) : seed_(seed) {}
  // `rush` (0..1) is how much of a rush hour it is. Towns (Urbanness) are warmer and more polluted.
  WeatherReading At(LatLon p, EventTime t, double rush) const;
  // The same, with the calendar work done once by the caller: `hours` since the epoch, UK
  // `local_hour`.
  WeatherReading At(LatLon p, double hours, double local_hour, double rush) const;

 private:
  // Smooth noise in [-1, 1] over (lat, lon, hours) for one field channel.
  double Noise(int channel, double lat, double lon, double hours) const;
  uint64_t seed_;
};

// How built-up a place is, 0..1: 1 in the cores of London and Birmingham, fading smoothly to 0 over
// a few kilometres, so the urban heat island and town air change gradually along the road rather
// than jumping where a stretch of road changes from urban to rural.
double Urbanness(LatLon p);

// Hour of day in the UK's civil time (GMT, or BST in summer) as a fraction, and the weekday
// (0=Mon).
double UkLocalHour(EventTime t, int* weekday);
// 0 outside rush hours (07-09, 17-19 on weekdays, UK time), 1 in them, ramping over 30 minutes.
double RushHourIntensity(EventTime t);

}  // namespace smartcity::simulation
