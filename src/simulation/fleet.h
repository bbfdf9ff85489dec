// Fleet: the vehicles on the road, drawn from a catalogue that resembles UK motorway traffic
// (mostly private cars, then vans, lorries, coaches and taxis; makes and fuel types in roughly the
// proportions of UK registrations).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "simulation/rng.h"

namespace smartcity::simulation {

struct VehicleSpec {
  std::string_view make;
  std::string_view model;
  std::string_view vehicle_type;  // gps_data.vehicleType: private, taxi, van, coach, truck
  std::string_view fuel_type;     // Petrol, Diesel, Hybrid, Electric
  int first_year;                 // first model year on sale
  double max_speed_kmh;           // legal or governed top speed (lorries 90, coaches 100)
};

// Draws one vehicle (make, model, type, fuel) and its model year, not after `latest_year`.
VehicleSpec DrawVehicle(Rng& rng, int latest_year, int* year);

}  // namespace smartcity::simulation
