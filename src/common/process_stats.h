// Facts about this process from /proc (Linux): memory and CPU, for summaries, /metrics and
// benchmarks. Each call reads /proc afresh; 0 when the file cannot be read. Thread-safe.
#pragma once

#include <cstdint>

namespace smartcity {

uint64_t ResidentBytes();  // VmRSS
uint64_t PeakRssBytes();   // VmHWM: the peak resident set size so far
double CpuSeconds();       // user + system time of all threads

// Names the calling thread (Linux: the first 15 bytes; what `top -H`, `ps -L` and /proc/<pid>/task
// show), so an operator can tell where a long-running command spends its CPU and memory. Threads it
// starts afterwards, DuckDB's included, inherit the name. A no-op where not supported.
void NameThisThread(const char* name);

}  // namespace smartcity
