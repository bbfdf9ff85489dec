#include "pipeline/driver.h"

namespace smartcity::pipeline {

Drive::Drive(Processor* processor, EventSource* source, DriveInput* input, DriveOptions options)
    : processor_(processor),
      source_(source),
      input_(input),
      options_(std::move(options)),
      clock_(Clock::OrReal(options_.clock)) {}

DriveResult Drive::Run() {
  DriveResult result;
  const ProcessingTime start = clock_->Now();
  ProcessingTime next_live = start;
  ProcessingTime last_report = start;
  uint64_t last_records = processor_->counters().records;
  auto stopped = [this] { return options_.stop != nullptr && options_.stop->load(); };
  for (;;) {
    if (stopped()) {
      result.end = DriveEnd::kStopped;
      break;
    }
    const int fed = input_->Feed();
    if (Status s = processor_->Step(); !s.ok()) {
      result.status = s;
      result.end = DriveEnd::kFailed;
      break;
    }
    const std::vector<Processor::GroupStatus> groups = processor_->Groups();
    const std::vector<PartitionLag> lag = source_->Lag();
    DriveStep step;
    step.now = clock_->Now();
    step.counters = &processor_->counters();
    step.groups = groups;
    step.lag = lag;
    for (const PartitionLag& l : lag) {
      step.records_behind += l.records_behind.value_or(0);
      step.lag_known = step.lag_known && l.records_behind.has_value();
    }
    for (const auto& g : groups) step.replaying = step.replaying || g.replaying;

    if (options_.on_live && step.now >= next_live) {
      options_.on_live(step);
      next_live = step.now + options_.live_every;
    }
    input_->AfterStep(step);
    if (input_->Done(step)) {
      result.end = DriveEnd::kInputDone;
      break;
    }
    if (options_.on_report && options_.report_every > Micros(0) &&
        step.now - last_report >= options_.report_every) {
      DriveReport report;
      report.step = &step;
      report.seconds = std::chrono::duration<double>(step.now - start).count();
      const double dt = std::chrono::duration<double>(step.now - last_report).count();
      report.events_per_s = static_cast<double>(step.counters->records - last_records) / dt;
      report.watermark = LowWatermark(groups);
      options_.on_report(report);
      last_report = step.now;
      last_records = step.counters->records;
    }
    if (fed == 0 && step.records_behind == 0 && options_.idle_wait > Micros(0))
      clock_->SleepFor(options_.idle_wait);
  }
  result.seconds = std::chrono::duration<double>(clock_->Now() - start).count();
  return result;
}

}  // namespace smartcity::pipeline
