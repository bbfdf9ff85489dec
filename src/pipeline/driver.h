// Drive: the loop `run` and `stream` both run around a Processor. Each turn feeds the input (run:
// the simulator's due ticks; stream: nothing, the Kafka source fetches by itself), steps the
// processor, and asks the input whether it is done; on the way it hands the live view a snapshot
// every `live_every` and the command a progress report every `report_every`, and it stops when the
// input is done, the processor fails or `*stop` becomes true (SIGINT/SIGTERM). What to do after
// (Finish() to flush the join when the input is complete, CommitNow() to keep the join state for
// the next run) and how to print the reports is the command's.
//
//   pipeline::Drive drive(&processor, &source, &input, options);
//   DriveResult r = drive.Run();
//
// All time through the options' Clock, so the loop is tested on a FakeClock (driver_test.cc).
//
// Ownership: borrows the processor, source and input. Thread-safety: one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/time.h"
#include "pipeline/processor.h"
#include "transport/event_source.h"

namespace smartcity::pipeline {

// What one turn of the loop saw after the processor's step.
struct DriveStep {
  ProcessingTime now{};
  const ProcessorCounters* counters = nullptr;
  std::span<const Processor::GroupStatus> groups;  // the partition groups owned now
  std::span<const PartitionLag> lag;               // the source's lag per owned partition
  // Records the source has not read yet (unknown lag counts as none: see lag_known).
  int64_t records_behind = 0;
  // Every owned partition's lag is known. False while the source cannot reach its transport (or has
  // not yet learnt a partition's end): records_behind is then a lower bound, and progress lines say
  // "lag ?".
  bool lag_known = true;
  bool replaying = false;  // a group is re-running an epoch after a restart
};

// A progress report: the step's view plus rates since the previous report.
struct DriveReport {
  const DriveStep* step = nullptr;
  double seconds = 0;       // since the drive began
  double events_per_s = 0;  // records processed per second since the previous report
  // The processor's watermark as progress lines show it (LowWatermark of the groups).
  std::optional<EventTime> watermark;
};

// The command's side of the loop.
class DriveInput {
 public:
  virtual ~DriveInput() = default;
  // Before each step: adds the input that is due (run: the simulator's ticks). Returns how much was
  // added; 0 with nothing behind lets the loop wait `idle_wait` before the next turn.
  virtual int Feed() { return 0; }
  // After each successful step: true once the input is complete and processed (run: the
  // simulation ended and nothing is behind; stream --stop-when-idle: caught up and quiet).
  virtual bool Done(const DriveStep& step) = 0;
  // After each successful step, before Done() (stream: publishes its positions to the group).
  virtual void AfterStep(const DriveStep& step) {}
};

struct DriveOptions {
  Clock* clock = nullptr;                   // null: the real clock
  const std::atomic<bool>* stop = nullptr;  // ends the loop when it becomes true (may be null)
  Micros live_every = std::chrono::milliseconds(250);
  Micros report_every = std::chrono::seconds(1);
  // After a turn in which Feed() added nothing and the source was not behind: the input has nothing
  // due, so wait a little instead of spinning (0: never; a Kafka source's Poll already waits).
  Micros idle_wait{0};
  std::function<void(const DriveStep&)> on_live;      // the live view's snapshot (may be empty)
  std::function<void(const DriveReport&)> on_report;  // a progress line (may be empty)
};

enum class DriveEnd {
  kInputDone,  // DriveInput::Done() said so
  kStopped,    // *stop became true
  kFailed,     // the processor's step failed: DriveResult::status
};

struct DriveResult {
  Status status;
  DriveEnd end = DriveEnd::kStopped;
  double seconds = 0;  // the loop's running time
};

class Drive {
 public:
  Drive(Processor* processor, EventSource* source, DriveInput* input, DriveOptions options);

  DriveResult Run();

 private:
  Processor* processor_;
  EventSource* source_;
  DriveInput* input_;
  DriveOptions options_;
  Clock* clock_;
};

}  // namespace smartcity::pipeline
