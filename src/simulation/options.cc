#include "simulation/options.h"

#include <charconv>
#include <cmath>

namespace smartcity::simulation {

std::string_view FaultKindName(FaultKind k) {
  switch (k) {
    case FaultKind::kLate:
      return "late";
    case FaultKind::kReorder:
      return "reorder";
    case FaultKind::kDuplicate:
      return "duplicate";
    case FaultKind::kMalformed:
      return "malformed";
    case FaultKind::kWrongType:
      return "wrong-type";
    case FaultKind::kMissingField:
      return "missing-field";
    case FaultKind::kOversize:
      return "oversize";
  }
  return "?";
}

Result<FaultSpec> ParseFaultSpec(std::string_view s) {
  const std::string orig(s);
  const size_t eq = s.find('=');
  if (eq == std::string_view::npos) {
    return Status::InvalidArgument("fault '" + orig +
                                   "' must look like KIND=RATE[@DELAY], e.g. late=0.01@5m");
  }
  const std::string_view name = s.substr(0, eq);
  std::string_view rest = s.substr(eq + 1);
  FaultSpec spec{};
  bool found = false;
  for (size_t i = 0; i < kFaultKindCount; ++i) {
    if (FaultKindName(static_cast<FaultKind>(i)) == name) {
      spec.kind = static_cast<FaultKind>(i);
      found = true;
    }
  }
  if (!found) {
    return Status::InvalidArgument(
        "unknown fault kind '" + std::string(name) +
        "' (use late, reorder, duplicate, malformed, wrong-type, missing-field, oversize)");
  }
  std::string_view rate_text = rest;
  std::string_view delay_text;
  if (const size_t at = rest.find('@'); at != std::string_view::npos) {
    rate_text = rest.substr(0, at);
    delay_text = rest.substr(at + 1);
  }
  auto [ptr, ec] =
      std::from_chars(rate_text.data(), rate_text.data() + rate_text.size(), spec.rate);
  if (ec != std::errc() || ptr != rate_text.data() + rate_text.size() ||
      !std::isfinite(spec.rate) || spec.rate < 0 || spec.rate > 1) {
    return Status::InvalidArgument("fault '" + orig +
                                   "': rate must be a probability between 0 and 1");
  }
  const bool delayed = spec.kind == FaultKind::kLate || spec.kind == FaultKind::kReorder;
  if (!delay_text.empty()) {
    if (!delayed) {
      return Status::InvalidArgument("fault '" + orig + "': only late and reorder take a @DELAY");
    }
    SC_ASSIGN_OR_RETURN(spec.delay, ParseDuration(delay_text));
    if (spec.delay.count() == 0) {
      return Status::InvalidArgument("fault '" + orig + "': the delay must be more than zero");
    }
  } else if (spec.kind == FaultKind::kLate) {
    spec.delay = std::chrono::minutes(5);  // beyond the default 2 min watermark delay
  } else if (spec.kind == FaultKind::kReorder) {
    spec.delay = std::chrono::seconds(5);  // well within it
  }
  return spec;
}

Status SimulationOptions::Validate() const {
  if (vehicles < 1 || vehicles > 1'000'000) {
    return Status::InvalidArgument("--vehicles must be between 1 and 1000000 (got " +
                                   std::to_string(vehicles) + ")");
  }
  if (tick < std::chrono::milliseconds(1) || tick > std::chrono::hours(1)) {
    return Status::InvalidArgument("--tick must be between 1ms and 1h (got " +
                                   FormatDuration(tick) + ")");
  }
  if (!(speedup >= 0) || !std::isfinite(speedup)) {
    return Status::InvalidArgument("--speedup must be a positive number or 'max'");
  }
  if (duration && duration->count() <= 0) {
    return Status::InvalidArgument("--duration must be more than zero");
  }
  if (count && *count == 0) {
    return Status::InvalidArgument("--count must be more than zero");
  }
  if (oversize_bytes < 1024 || oversize_bytes > 64 * 1024 * 1024) {
    return Status::InvalidArgument("--oversize-bytes must be between 1 KiB and 64 MiB");
  }
  if (!(incidents_per_vehicle_hour >= 0) || incidents_per_vehicle_hour > 3600) {
    return Status::InvalidArgument(
        "--incident-rate must be between 0 and 3600 incidents per vehicle-hour");
  }
  double total_rate = 0;
  bool seen[kFaultKindCount] = {};
  for (const FaultSpec& f : faults) {
    if (seen[static_cast<size_t>(f.kind)]) {
      return Status::InvalidArgument("fault '" + std::string(FaultKindName(f.kind)) +
                                     "' is given twice");
    }
    seen[static_cast<size_t>(f.kind)] = true;
    total_rate += f.rate;
  }
  if (total_rate > 1.0 + 1e-9) {
    return Status::InvalidArgument(
        "fault rates add up to more than 1: each event gets at most one fault");
  }
  return Status::OK();
}

}  // namespace smartcity::simulation
