// Route: the London -> Birmingham drive as a polyline of real waypoints (central London, the A40
// Westway, the M40 junction by junction, the M42 and the A34 into Birmingham), with the speed limit
// of each stretch and fixed traffic cameras along it.
//
// Positions are addressed by distance along the route in metres; PointAt() interpolates on the
// polyline, so every simulated position lies on the route.
//
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smartcity::simulation {

struct LatLon {
  double lat;
  double lon;
};

struct Waypoint {
  LatLon pos;
  std::string_view name;   // "M40 J4 (High Wycombe)"
  std::string_view road;   // road of the stretch that starts here
  double speed_limit_kmh;  // limit on the stretch that starts here
  bool urban;              // city streets: rush hour hits harder, air quality is worse
};

struct RoutePoint {
  LatLon pos;
  double bearing_deg;  // direction of travel, 0 = north, clockwise
  size_t segment;      // index of the waypoint that starts this stretch
};

struct Camera {
  std::string id;     // "CAM-M40-017"
  double distance_m;  // along the route
  LatLon pos;
};

class Route {
 public:
  // The built-in London -> Birmingham route.
  static const Route& LondonToBirmingham();

  explicit Route(std::vector<Waypoint> waypoints);

  double length_m() const { return cumulative_.back(); }
  const std::vector<Waypoint>& waypoints() const { return waypoints_; }
  const std::vector<Camera>& cameras() const { return cameras_; }

  // The point at `distance_m` (clamped to [0, length]) from London. `hint` is a segment index to
  // start searching from (a vehicle moves little in a tick, in either direction, so passing its
  // last result makes this O(1)). The bearing is the London -> Birmingham one.
  RoutePoint PointAt(double distance_m, size_t hint = 0) const;
  const Waypoint& SegmentStart(size_t segment) const { return waypoints_[segment]; }
  // Distance to the nearest point of the polyline, in metres (for plausibility checks).
  double DistanceToRoute(LatLon p) const;

 private:
  std::vector<Waypoint> waypoints_;
  std::vector<double> cumulative_;  // distance from the start to each waypoint
  std::vector<double> bearing_;     // bearing of each segment
  std::vector<Camera> cameras_;
};

// Great-circle distance in metres.
double HaversineMetres(LatLon a, LatLon b);
// Initial bearing from a to b, degrees in [0, 360).
double BearingDegrees(LatLon a, LatLon b);
// "North", "North-East", ... "North-West": the 8-point compass name of a bearing.
std::string_view CompassName(double bearing_deg);

}  // namespace smartcity::simulation
