#include "cli/progress.h"

#include <fmt/format.h>

namespace smartcity::cli {

namespace {

uint64_t Rows(const pipeline::ProcessorCounters& c, stream::OutputTable t) {
  return c.rows[static_cast<size_t>(t)];
}

std::string Watermark(const pipeline::DriveReport& r) {
  return r.watermark ? FormatTimestamp(*r.watermark).substr(11, 8) : "-";
}

}  // namespace

std::string FormatCount(uint64_t n) {
  if (n >= 10'000'000) return std::to_string(n / 1'000'000) + "M";
  if (n >= 10'000) return std::to_string(n / 1'000) + "k";
  return std::to_string(n);
}

// ", quarantined N" when some records were (else nothing: the line stays as it was).
static std::string Quarantined(const pipeline::ProcessorCounters& c) {
  return c.quarantined > 0 ? ", quarantined " + FormatCount(c.quarantined) : std::string();
}

// ", forwarded N" when records were read outside their device's partition group (else nothing).
static std::string Routed(const pipeline::ProcessorCounters& c) {
  if (c.forwarded > 0) return ", forwarded " + FormatCount(c.forwarded);
  return c.misplaced > 0 ? ", misplaced " + FormatCount(c.misplaced) : std::string();
}

std::string FormatRunProgress(const pipeline::DriveReport& r, EventTime city_time) {
  const pipeline::ProcessorCounters& c = *r.step->counters;
  using stream::OutputTable;
  return fmt::format(
      "run {} | {} events {:.0f}/s | epochs {} | lake rows: enriched {}, vehicle {}, dead letters "
      "{}, late {}{} | watermark {}",
      FormatTimestamp(city_time).substr(0, 19), c.records, r.events_per_s, c.epochs_committed,
      Rows(c, OutputTable::kEnriched), Rows(c, OutputTable::kVehicle),
      Rows(c, OutputTable::kDeadLetters), Rows(c, OutputTable::kLateEvents), Quarantined(c),
      Watermark(r));
}

std::string FormatStreamProgress(const pipeline::DriveReport& r) {
  const pipeline::ProcessorCounters& c = *r.step->counters;
  using stream::OutputTable;
  const double live_p99_ms = static_cast<double>(c.live_latency.Quantile(0.99).count()) / 1000.0;
  return fmt::format(
      "stream | {} events {:.0f}/s | lag {} | {} partition groups | epochs {} | watermark {} | "
      "lake rows: enriched {}, dead letters {}, late {}{}{} | live p99 {:.0f}ms",
      FormatCount(c.records), r.events_per_s,
      r.step->lag_known ? FormatCount(static_cast<uint64_t>(r.step->records_behind)) : "?",
      r.step->groups.size(), c.epochs_committed, Watermark(r),
      FormatCount(Rows(c, OutputTable::kEnriched)), FormatCount(Rows(c, OutputTable::kDeadLetters)),
      FormatCount(Rows(c, OutputTable::kLateEvents)), Quarantined(c), Routed(c), live_p99_ms);
}

std::string FormatWarehouseLag(const std::optional<warehouse::LoadLag>& lag, WallTime now,
                               bool failed) {
  if (failed) return "warehouse loader stopped";
  if (!lag || !lag->known()) {
    if (lag && !lag->retrying.empty())
      return "warehouse lag unknown (retrying: " + lag->retrying + ")";
    return "warehouse lag unknown";
  }
  const int64_t n = lag->versions();
  std::string out = fmt::format("warehouse lag {} commit{}", n, n == 1 ? "" : "s");
  if (n > 0) {
    const double age = warehouse::LoadLag::Age(lag->oldest_pending(), now).count();
    out += " " + FormatDuration(Micros(static_cast<int64_t>(age) * 1'000'000));
  }
  if (!lag->retrying.empty()) out += " (retrying: " + lag->retrying + ")";
  return out;
}

std::string FormatTableRows(const pipeline::ProcessorCounters& c) {
  std::string out;
  for (size_t i = 0; i < stream::kOutputTableCount; ++i) {
    out += fmt::format("  {:<16} {:>12} rows committed\n",
                       stream::OutputTableName(static_cast<stream::OutputTable>(i)), c.rows[i]);
  }
  if (c.quarantined > 0) {
    out += fmt::format("  {} records quarantined for an implausible event time (in {})\n",
                       c.quarantined, stream::kDeadLettersTable);
  }
  if (c.misplaced > 0 || c.repartition_received > 0) {
    out += fmt::format(
        "  repartition: {} records read outside their device's partition group, {} forwarded; {} "
        "forwarded records joined here, {} duplicates dropped\n",
        c.misplaced, c.forwarded, c.repartition_received, c.repartition_duplicates);
  }
  return out;
}

}  // namespace smartcity::cli
