#include "simulation/route.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace smartcity::simulation {

namespace {
constexpr double kEarthRadiusM = 6'371'008.8;
constexpr double kDegToRad = M_PI / 180.0;
}  // namespace

double HaversineMetres(LatLon a, LatLon b) {
  const double dlat = (b.lat - a.lat) * kDegToRad;
  const double dlon = (b.lon - a.lon) * kDegToRad;
  const double s = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(a.lat * kDegToRad) * std::cos(b.lat * kDegToRad) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * kEarthRadiusM * std::asin(std::min(1.0, std::sqrt(s)));
}

double BearingDegrees(LatLon a, LatLon b) {
  const double phi1 = a.lat * kDegToRad, phi2 = b.lat * kDegToRad;
  const double dlon = (b.lon - a.lon) * kDegToRad;
  const double y = std::sin(dlon) * std::cos(phi2);
  const double x =
      std::cos(phi1) * std::sin(phi2) - std::sin(phi1) * std::cos(phi2) * std::cos(dlon);
  double deg = std::atan2(y, x) / kDegToRad;
  if (deg < 0) deg += 360;
  return deg;
}

std::string_view CompassName(double bearing_deg) {
  static constexpr std::string_view kNames[] = {"North", "North-East", "East", "South-East",
                                                "South", "South-West", "West", "North-West"};
  const int i = static_cast<int>(std::floor(std::fmod(bearing_deg + 22.5, 360.0) / 45.0));
  return kNames[std::clamp(i, 0, 7)];
}

const Route& Route::LondonToBirmingham() {
  // Waypoints of the usual London -> Birmingham drive by the M40 (coordinates to ~100 m). Limits
  // are the UK national ones: 30 mph (48 km/h) in central London and Birmingham, 40-50 mph on the
  // A40 and A34, 70 mph (112 km/h) on the motorways.
  static const Route route({
      {{51.507400, -0.127800}, "Trafalgar Square, London", "Strand / Regent Street", 32, true},
      {{51.515500, -0.141900}, "Oxford Circus", "Marylebone Road", 48, true},
      {{51.522500, -0.163500}, "Marylebone", "A40 Westway", 64, true},
      {{51.518300, -0.190000}, "Westbourne Park", "A40 Westway", 64, true},
      {{51.517600, -0.225300}, "White City", "A40 Western Avenue", 80, true},
      {{51.530200, -0.292900}, "Hanger Lane", "A40 Western Avenue", 80, false},
      {{51.536600, -0.323100}, "Perivale", "A40 Western Avenue", 80, false},
      {{51.548000, -0.370000}, "Northolt", "A40 Western Avenue", 80, false},
      {{51.550300, -0.442900}, "Hillingdon", "A40", 96, false},
      {{51.571000, -0.497600}, "M40 J1 (Denham)", "M40", 112, false},
      {{51.607700, -0.627000}, "M40 J2 (Beaconsfield)", "M40", 112, false},
      {{51.616600, -0.694000}, "M40 J3 (Loudwater)", "M40", 112, false},
      {{51.631000, -0.760000}, "M40 J4 (High Wycombe)", "M40", 112, false},
      {{51.662100, -0.905000}, "M40 J5 (Stokenchurch)", "M40", 112, false},
      {{51.676000, -0.980000}, "M40 J6 (Lewknor)", "M40", 112, false},
      {{51.717400, -1.051200}, "M40 J7 (Milton Common)", "M40", 112, false},
      {{51.744000, -1.103000}, "M40 J8 (Wheatley)", "M40", 112, false},
      {{51.867600, -1.201500}, "M40 J9 (Bicester)", "M40", 112, false},
      {{51.938000, -1.211000}, "M40 J10 (Ardley)", "M40", 112, false},
      {{52.063000, -1.310000}, "M40 J11 (Banbury)", "M40", 112, false},
      {{52.179300, -1.461600}, "M40 J12 (Gaydon)", "M40", 112, false},
      {{52.260000, -1.557000}, "M40 J13 (Leamington Spa)", "M40", 112, false},
      {{52.276000, -1.629000}, "M40 J15 (Warwick)", "M40", 112, false},
      {{52.342000, -1.731000}, "M40 J16 (Lapworth)", "M40", 112, false},
      {{52.362000, -1.807000}, "M42 J3a", "M42", 112, false},
      {{52.389000, -1.779000}, "M42 J4 (Shirley)", "A34 Stratford Road", 64, false},
      {{52.406000, -1.822000}, "Shirley", "A34 Stratford Road", 64, true},
      {{52.431000, -1.833000}, "Hall Green", "A34 Stratford Road", 48, true},
      {{52.456000, -1.856000}, "Sparkhill", "A34 Stratford Road", 48, true},
      {{52.470000, -1.880000}, "Camp Hill", "A4540 Middleway", 48, true},
      {{52.486200, -1.890400}, "Victoria Square, Birmingham", "", 32, true},
  });
  return route;
}

Route::Route(std::vector<Waypoint> waypoints) : waypoints_(std::move(waypoints)) {
  cumulative_.push_back(0);
  for (size_t i = 1; i < waypoints_.size(); ++i) {
    cumulative_.push_back(cumulative_.back() +
                          HaversineMetres(waypoints_[i - 1].pos, waypoints_[i].pos));
    bearing_.push_back(BearingDegrees(waypoints_[i - 1].pos, waypoints_[i].pos));
  }
  bearing_.push_back(bearing_.empty() ? 0 : bearing_.back());
  // Fixed cameras: one every 4 km from 1.5 km in, named after the road they watch.
  int n = 0;
  for (double d = 1500; d < length_m() - 500; d += 4000) {
    const RoutePoint p = PointAt(d);
    std::string road(waypoints_[p.segment].road);
    std::string tag;
    for (char c : road.substr(0, road.find(' '))) {
      if (std::isalnum(static_cast<unsigned char>(c))) tag += static_cast<char>(std::toupper(c));
    }
    if (tag.empty()) tag = "CITY";
    char id[48];
    std::snprintf(id, sizeof id, "CAM-%s-%03d", tag.c_str(), ++n);
    cameras_.push_back(Camera{id, d, p.pos});
  }
}

RoutePoint Route::PointAt(double distance_m, size_t hint) const {
  distance_m = std::clamp(distance_m, 0.0, length_m());
  size_t seg = std::min(hint, cumulative_.size() - 2);
  if (cumulative_[seg] > distance_m) {
    // Behind the hint (a vehicle driving Birmingham -> London): walk back to the first segment
    // whose end reaches the point, the one the forward scan from 0 would find.
    while (seg > 0 && cumulative_[seg] >= distance_m) --seg;
  }
  while (seg + 2 < cumulative_.size() && cumulative_[seg + 1] < distance_m) ++seg;
  const double seg_len = cumulative_[seg + 1] - cumulative_[seg];
  const double f = seg_len > 0 ? (distance_m - cumulative_[seg]) / seg_len : 0;
  const LatLon a = waypoints_[seg].pos, b = waypoints_[seg + 1].pos;
  return RoutePoint{{a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f}, bearing_[seg], seg};
}

double Route::DistanceToRoute(LatLon p) const {
  // Project onto each segment in a local equirectangular frame (accurate to metres at this scale).
  double best = 1e18;
  const double kx = std::cos(p.lat * kDegToRad) * kDegToRad * kEarthRadiusM;
  const double ky = kDegToRad * kEarthRadiusM;
  for (size_t i = 0; i + 1 < waypoints_.size(); ++i) {
    const double ax = (waypoints_[i].pos.lon - p.lon) * kx,
                 ay = (waypoints_[i].pos.lat - p.lat) * ky;
    const double bx = (waypoints_[i + 1].pos.lon - p.lon) * kx,
                 by = (waypoints_[i + 1].pos.lat - p.lat) * ky;
    const double dx = bx - ax, dy = by - ay;
    const double len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? -(ax * dx + ay * dy) / len2 : 0;
    t = std::clamp(t, 0.0, 1.0);
    const double cx = ax + t * dx, cy = ay + t * dy;
    best = std::min(best, std::sqrt(cx * cx + cy * cy));
  }
  return best;
}

}  // namespace smartcity::simulation
