// The lines `run` and `stream` print on stderr: a progress line each second of a Drive
// (pipeline/driver.h) and the per-table rows of their summaries. Pure functions of the counters, so
// cli_test checks them without running a pipeline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/time.h"
#include "pipeline/driver.h"
#include "pipeline/processor.h"
#include "warehouse/loader.h"

namespace smartcity::cli {

// 999 -> "999", 12'345 -> "12k", 12'345'678 -> "12M".
std::string FormatCount(uint64_t n);

// "run 2026-01-05T07:12:30 | 5400 events 5400/s | epochs 3 | lake rows: enriched ..., vehicle ...,
// dead letters ..., late ... | watermark 07:12:20"; `city_time`: the simulator's clock.
std::string FormatRunProgress(const pipeline::DriveReport& r, EventTime city_time);

// "stream | 1200k events 95000/s | lag 30k | 4 partition groups | epochs 12 | watermark 07:12:20 |
// lake rows: enriched ..., dead letters ..., late ... | live p99 12ms".
std::string FormatStreamProgress(const pipeline::DriveReport& r);

// The warehouse's lag behind the lake at `now`, for `run`'s progress line and summary: "warehouse
// lag 0 commits", "warehouse lag 3 commits 12s" (lake commits not loaded yet, and how long the
// oldest has waited), "... (retrying: <why>)" while the warehouse is away; "warehouse lag unknown"
// before the loader reached the warehouse; "warehouse loader stopped" once it `failed`.
std::string FormatWarehouseLag(const std::optional<warehouse::LoadLag>& lag, WallTime now,
                               bool failed);

// One line per output table: "  enriched_data        12345 rows committed\n".
std::string FormatTableRows(const pipeline::ProcessorCounters& c);

}  // namespace smartcity::cli
