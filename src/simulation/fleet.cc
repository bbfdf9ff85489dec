#include "simulation/fleet.h"

#include <algorithm>
#include <array>

namespace smartcity::simulation {

namespace {

struct CatalogueEntry {
  VehicleSpec spec;
  double weight;
};

// Weights are per-mille of vehicles on the road, loosely after UK licensing statistics.
constexpr std::array<CatalogueEntry, 30> kCatalogue = {{
    {{"Ford", "Fiesta", "private", "Petrol", 2008, 180}, 60},
    {{"Ford", "Focus", "private", "Petrol", 2011, 190}, 45},
    {{"Ford", "Puma", "private", "Hybrid", 2019, 190}, 30},
    {{"Vauxhall", "Corsa", "private", "Petrol", 2014, 180}, 50},
    {{"Vauxhall", "Astra", "private", "Diesel", 2015, 200}, 35},
    {{"Volkswagen", "Golf", "private", "Petrol", 2012, 210}, 50},
    {{"Volkswagen", "Polo", "private", "Petrol", 2017, 190}, 30},
    {{"Volkswagen", "Passat", "private", "Diesel", 2014, 210}, 15},
    {{"BMW", "3 Series", "private", "Diesel", 2012, 230}, 30},
    {{"BMW", "1 Series", "private", "Petrol", 2011, 220}, 20},
    {{"Mercedes-Benz", "A-Class", "private", "Petrol", 2012, 220}, 30},
    {{"Mercedes-Benz", "C-Class", "private", "Diesel", 2014, 240}, 20},
    {{"Audi", "A3", "private", "Petrol", 2012, 220}, 30},
    {{"Toyota", "Yaris", "private", "Hybrid", 2012, 175}, 30},
    {{"Toyota", "Corolla", "private", "Hybrid", 2019, 180}, 25},
    {{"Nissan", "Qashqai", "private", "Petrol", 2014, 195}, 40},
    {{"Nissan", "Leaf", "private", "Electric", 2011, 150}, 15},
    {{"Kia", "Sportage", "private", "Hybrid", 2016, 190}, 25},
    {{"Hyundai", "Tucson", "private", "Hybrid", 2015, 190}, 20},
    {{"Tesla", "Model 3", "private", "Electric", 2019, 225}, 25},
    {{"Tesla", "Model Y", "private", "Electric", 2021, 217}, 20},
    {{"MG", "ZS EV", "private", "Electric", 2019, 175}, 15},
    {{"Land Rover", "Range Rover Evoque", "private", "Diesel", 2011, 210}, 15},
    {{"LEVC", "TX", "taxi", "Hybrid", 2018, 130}, 15},
    {{"Toyota", "Prius+", "taxi", "Hybrid", 2012, 165}, 15},
    {{"Ford", "Transit", "van", "Diesel", 2010, 150}, 70},
    {{"Mercedes-Benz", "Sprinter", "van", "Diesel", 2010, 155}, 50},
    {{"DAF", "XF", "truck", "Diesel", 2010, 90}, 55},
    {{"Scania", "R 450", "truck", "Diesel", 2013, 90}, 45},
    {{"Volvo", "B11R", "coach", "Diesel", 2012, 100}, 50},
}};

}  // namespace

VehicleSpec DrawVehicle(Rng& rng, int latest_year, int* year) {
  double total = 0;
  for (const auto& e : kCatalogue) total += e.weight;
  double x = rng.Uniform() * total;
  const CatalogueEntry* chosen = &kCatalogue.back();
  for (const auto& e : kCatalogue) {
    if (x < e.weight) {
      chosen = &e;
      break;
    }
    x -= e.weight;
  }
  // Model year: skewed towards recent years (the average UK car is ~8 years old).
  const int first = std::min(chosen->spec.first_year, latest_year);
  const int span = latest_year - first;
  const double u = rng.Uniform();
  *year = latest_year - static_cast<int>(std::min<double>(span, std::floor(span * u * u)));
  return chosen->spec;
}

}  // namespace smartcity::simulation
