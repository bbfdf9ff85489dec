// Options and helpers shared by the commands that run the simulator (simulate, run).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/kafka_options.h"
#include "simulation/driver.h"
#include "simulation/options.h"
#include "transport/line_sink.h"

namespace smartcity::cli {

struct SimulateArgs {
  simulation::SimulationOptions sim;
  std::string speedup_text = "1";
  std::vector<std::string> fault_texts;
  bool one_trip = false;  // --one-trip: SimulationMode::kOneTrip
  std::string output = "-";
  std::string format_text = "jsonl";
  LineFormat format = LineFormat::kJsonl;
  std::string summary_json;
  bool quiet = false;
  TopicNames topics;
  // --kafka: send to Kafka instead of stdout/file.
  bool to_kafka = false;
  KafkaConnectionArgs kafka;
  KafkaProducerArgs producer;
  // Bound on the final flush of the sink.
  std::chrono::milliseconds flush_timeout{30'000};

  // Parses the texts into `sim`/`format` and validates; a bad value is an InvalidArgument naming
  // the flag.
  Status Finish();
};

void AddSimulationOptions(CLI::App* app, SimulateArgs* args);
void AddOutputOptions(CLI::App* app, SimulateArgs* args);
// --kafka and the Kafka connection and producer options.
void AddKafkaOutputOptions(CLI::App* app, SimulateArgs* args);
// The sink the options ask for: Kafka (after its pre-flight check), a file or stdout.
Result<std::unique_ptr<Sink>> OpenSink(SimulateArgs& args);

// Prints one progress line per report on stderr (rewritten in place on a terminal).
class ProgressPrinter {
 public:
  ProgressPrinter(std::string label, bool quiet);
  void operator()(const simulation::Progress& p);

 private:
  std::string label_;
  bool quiet_;
  bool tty_ = false;
  bool printed_ = false;
  std::chrono::duration<double> last_elapsed_{0};
  uint64_t last_emitted_[kTopicCount] = {};
  uint64_t last_bytes_ = 0;
};

nlohmann::json SummaryJson(const simulation::SimulationSummary& s, const SinkCounters& sink,
                           double seconds);
// " late=3 duplicate=1" (each kind injected at least once), or " none".
std::string FormatFaults(const simulation::SimulationSummary& s);
void PrintSummary(const char* label, const simulation::SimulationSummary& s,
                  const SinkCounters& sink, const std::string& sink_name, double seconds);
// Runs the simulator into `sink` with progress and summary; returns the exit code.
int RunSimulationToSink(const char* label, SimulateArgs& args, Sink& sink);

}  // namespace smartcity::cli
