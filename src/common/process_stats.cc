#include "common/process_stats.h"

#include <pthread.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>

namespace smartcity {

namespace {

// The value in kB of a "Name:   1234 kB" line of /proc/self/status, in bytes.
uint64_t StatusField(const char* name) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  const size_t n = std::strlen(name);
  uint64_t value = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, name, n) == 0 && line[n] == ':') {
      unsigned long long kb = 0;
      if (std::sscanf(line + n + 1, "%llu", &kb) == 1) value = kb * 1024;
      break;
    }
  }
  std::fclose(f);
  return value;
}

}  // namespace

uint64_t ResidentBytes() {
  return StatusField("VmRSS");
}
uint64_t PeakRssBytes() {
  return StatusField("VmHWM");
}

double CpuSeconds() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

void NameThisThread(const char* name) {
#if defined(__linux__)
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%s", name);
  (void)pthread_setname_np(pthread_self(), buf);
#else
  (void)name;
#endif
}

}  // namespace smartcity
