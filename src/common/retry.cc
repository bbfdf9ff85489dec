#include "common/retry.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

namespace smartcity {

RetryPolicy::RetryPolicy(RetryOptions options, Clock* clock, RandomSource random)
    : options_(options), clock_(Clock::OrReal(clock)), random_(std::move(random)) {
  options_.initial_backoff = std::max(options_.initial_backoff, Micros(0));
  options_.max_backoff = std::max(options_.max_backoff, options_.initial_backoff);
  options_.multiplier = std::max(options_.multiplier, 1.0);
  options_.jitter = std::clamp(options_.jitter, 0.0, 1.0);
  options_.deadline = std::max(options_.deadline, Micros(0));
}

double RetryPolicy::Random() const {
  if (random_) return std::clamp(random_(), 0.0, 1.0);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

RetryPolicy::Attempts::Attempts(const RetryPolicy* policy)
    : policy_(policy), start_(policy->clock_->Now()) {}

Micros RetryPolicy::Attempts::elapsed() const {
  return std::chrono::duration_cast<Micros>(policy_->clock_->Now() - start_);
}

bool RetryPolicy::Attempts::ShouldRetry(Status* status) {
  ++attempts_;
  if (status->ok() || !status->IsRetryable() || status->retries_spent()) return false;
  const RetryOptions& o = policy_->options_;
  const Micros spent = elapsed();
  const bool out_of_attempts = o.max_attempts > 0 && attempts_ >= o.max_attempts;
  if (out_of_attempts || spent >= o.deadline) {
    if (attempts_ > 1) {
      *status =
          Status(status->kind(),
                 fmt::format("{} (gave up after {} attempts in {} s)", status->message(), attempts_,
                             std::chrono::duration_cast<std::chrono::seconds>(spent).count()));
    }
    *status = status->WithRetriesSpent();
    return false;
  }
  if (backoff_ == Micros(0)) {
    backoff_ = o.initial_backoff;
  } else {
    const double next = static_cast<double>(backoff_.count()) * o.multiplier;
    backoff_ = next >= static_cast<double>(o.max_backoff.count())
                   ? o.max_backoff
                   : Micros(static_cast<int64_t>(next));
  }
  backoff_ = std::min(backoff_, o.max_backoff);
  Micros delay = backoff_;
  if (o.jitter > 0) {
    delay -= Micros(
        static_cast<int64_t>(o.jitter * policy_->Random() * static_cast<double>(backoff_.count())));
  }
  // Never wait past the deadline: the last attempt starts at it.
  if (o.deadline != Micros::max()) delay = std::min(delay, o.deadline - spent);
  next_delay_ = std::max(delay, Micros(0));
  ++retries_;
  return true;
}

bool RetryPolicy::Attempts::Wait(const std::atomic<bool>* stop) {
  Clock& clock = *policy_->clock_;
  const ProcessingTime until = clock.Now() + next_delay_;
  if (stop == nullptr) {
    clock.SleepUntil(until);
    return true;
  }
  return SleepUntil(clock, until, stop);
}

Status RetryPolicy::Run(const std::function<Status()>& op, uint64_t* retries) const {
  Attempts a = Start();
  for (;;) {
    Status s = op();
    if (!a.ShouldRetry(&s)) {
      if (retries != nullptr) *retries += static_cast<uint64_t>(a.retries());
      return s;
    }
    a.Wait();
  }
}

}  // namespace smartcity
