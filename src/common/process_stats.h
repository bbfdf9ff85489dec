// Facts about this process from /proc (Linux): memory and CPU, for summaries, /metrics and
// benchmarks. Each call reads /proc afresh; 0 when the file cannot be read. Thread-safe.
#pragma once

#include <cstdint>

namespace smartcity {

uint64_t ResidentBytes();  // VmRSS
uint64_t PeakRssBytes();   // VmHWM: the peak resident set size so far
double CpuSeconds();       // user + system time of all threads

}  // namespace smartcity
