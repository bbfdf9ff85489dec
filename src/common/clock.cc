#include "common/clock.h"

#include <algorithm>

namespace smartcity {

Clock* Clock::Real() {
  static SystemClock* const clock = new SystemClock();  // never destroyed: usable at exit
  return clock;
}

bool SleepUntil(Clock& clock, ProcessingTime t, const std::atomic<bool>* stop,
                std::chrono::milliseconds slice) {
  for (;;) {
    if (stop != nullptr && stop->load()) return false;
    const ProcessingTime now = clock.Now();
    if (now >= t) return true;
    clock.SleepUntil(std::min<ProcessingTime>(t, now + slice));
  }
}

}  // namespace smartcity
