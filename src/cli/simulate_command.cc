// smartcity simulate: the city simulator (replaces the seeds' jobs/producer.py).
#include "cli/simulate_command.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "simulation/driver.h"
#include "transport/kafka_sink.h"
#include "transport/line_sink.h"

namespace smartcity::cli {

using simulation::FaultKind;
using simulation::kFaultKindCount;

void AddSimulationOptions(CLI::App* app, SimulateArgs* a) {
  auto* g = app;
  g->add_option("--seed", a->sim.seed,
                "Random seed: the same seed and options give identical output")
      ->capture_default_str();
  g->add_option("--vehicles", a->sim.vehicles,
                "Vehicles on the road at the daily mean: vehicles enter at both ends (London and "
                "Birmingham) at a rate that follows the time of day (rush hours 07-09 and 17-19, "
                "quiet nights, UK local time), so there are more in rush hours and fewer at night; "
                "with --one-trip, the fixed fleet size")
      ->capture_default_str();
  g->add_flag("--one-trip", a->one_trip,
              "The original one-way run: a fixed fleet of --vehicles drives London -> Birmingham "
              "once, and the run ends when every vehicle has arrived (or at --duration / --count)");
  AddTimestampOption(g, "--start", &a->sim.start,
                     "Event time of the first tick (ISO-8601, or 'now')");
  AddDurationOption(g, "--tick", &a->sim.tick, "Event time between two readings of one vehicle");
  g->add_option("--speedup", a->speedup_text,
                "Event time per processing time: 1 = real time, 10 = ten times faster, max = as "
                "fast as possible")
      ->capture_default_str();
  g->add_option_function<std::string>(
       "--duration",
       [a](const std::string& v) {
         auto d = ParseDuration(v);
         if (!d.ok()) throw CLI::ValidationError("--duration", d.status().message());
         a->sim.duration = *d;
       },
       "Stop after this much event time [default: run until stopped (Ctrl-C); with --one-trip, "
       "until every vehicle has reached Birmingham]")
      ->type_name("DURATION");
  g->add_option_function<uint64_t>(
       "--count", [a](const uint64_t& n) { a->sim.count = n; },
       "Stop after this many generated events")
      ->type_name("N");
  g->add_option(
       "--fault", a->fault_texts,
       "Inject faults: KIND=RATE[@DELAY], repeatable. Kinds: late, reorder, duplicate, malformed, "
       "wrong-type, missing-field, oversize (e.g. --fault late=0.01@5m --fault duplicate=0.001)")
      ->type_name("SPEC");
  g->add_option("--oversize-bytes", a->sim.oversize_bytes, "Size of an oversize payload")
      ->capture_default_str();
  // Validate() names this flag in its message, so it must exist.
  g->add_option("--incident-rate", a->sim.incidents_per_vehicle_hour,
                "Incidents raised per vehicle per hour of driving")
      ->capture_default_str();
}

void AddOutputOptions(CLI::App* app, SimulateArgs* a) {
  app->add_option("-o,--output", a->output, "Write to this file instead of stdout ('-' = stdout)")
      ->capture_default_str();
  app->add_option("--format", a->format_text,
                  "Line format: jsonl, tsv (topic, key, value) or value")
      ->capture_default_str();
  app->add_option("--summary-json", a->summary_json,
                  "Also write the end-of-run summary as JSON to this file");
  app->add_flag("-q,--quiet", a->quiet, "No progress lines and no summary on stderr");
  AddTopicNameOptions(app, &a->topics);
}

Status SimulateArgs::Finish() {
  if (speedup_text == "max") {
    sim.speedup = 0;
  } else {
    try {
      size_t used = 0;
      sim.speedup = std::stod(speedup_text, &used);
      if (used != speedup_text.size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      return Status::InvalidArgument("--speedup must be a number (1 = real time) or 'max', not '" +
                                     speedup_text + "'");
    }
    if (!(sim.speedup > 0))
      return Status::InvalidArgument("--speedup must be more than zero, or 'max'");
  }
  sim.mode = one_trip ? simulation::SimulationMode::kOneTrip : simulation::SimulationMode::kSteady;
  sim.faults.clear();
  for (const std::string& f : fault_texts) {
    SC_ASSIGN_OR_RETURN(auto spec, simulation::ParseFaultSpec(f));
    sim.faults.push_back(spec);
  }
  SC_RETURN_IF_ERROR(sim.Validate());
  SC_ASSIGN_OR_RETURN(format, ParseLineFormat(format_text));
  if (to_kafka) {
    if (output != "-") {
      return Status::InvalidArgument(
          "--output and --kafka both choose where events go: give one of them");
    }
    SC_RETURN_IF_ERROR(kafka.Finish(topics));
    SC_RETURN_IF_ERROR(producer.Finish());
    // The final flush must outlast the delivery timeout, so every event ends acknowledged or
    // failed.
    flush_timeout = producer.sink.delivery_timeout + std::chrono::seconds(5);
  }
  return Status::OK();
}

void AddKafkaOutputOptions(CLI::App* app, SimulateArgs* a) {
  app->add_flag("--kafka", a->to_kafka,
                "Send the events to Kafka (idempotent producer, acks=all, Java murmur2 "
                "partitioning by deviceId) "
                "instead of stdout or --output; the topics must exist (smartcity topics create)")
      ->group("Kafka");
  AddKafkaConnectionOptions(app, &a->kafka);
  AddKafkaProducerOptions(app, &a->producer);
}

Result<std::unique_ptr<Sink>> OpenSink(SimulateArgs& args) {
  if (args.to_kafka) {
    SC_ASSIGN_OR_RETURN(auto sink, KafkaSink::Open(args.kafka.kafka, args.producer.sink));
    return std::unique_ptr<Sink>(std::move(sink));
  }
  SC_ASSIGN_OR_RETURN(auto sink, LineSink::Open(args.output, args.format, args.topics));
  return std::unique_ptr<Sink>(std::move(sink));
}

namespace {

std::string Human(double v) {
  char buf[32];
  if (v >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e4)
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

}  // namespace

ProgressPrinter::ProgressPrinter(std::string label, bool quiet)
    : label_(std::move(label)), quiet_(quiet) {
  tty_ = ::isatty(STDERR_FILENO) != 0;
}

void ProgressPrinter::operator()(const simulation::Progress& p) {
  if (quiet_) return;
  const double dt = (p.elapsed - last_elapsed_).count();
  if (p.final) {
    if (tty_ && printed_) std::fputc('\n', stderr);
    return;
  }
  std::string line = label_ + " " + FormatTimestamp(p.event_time).substr(0, 19) + "Z";
  uint64_t total = 0;
  std::string per_topic;
  for (Topic t : kAllTopics) {
    const size_t i = static_cast<size_t>(t);
    const uint64_t now = p.summary->emitted[i];
    total += now;
    const double rate = dt > 0 ? static_cast<double>(now - last_emitted_[i]) / dt : 0;
    per_topic += " " + std::string(DefaultTopicName(t).substr(0, DefaultTopicName(t).find('_'))) +
                 " " + Human(rate) + "/s";
    last_emitted_[i] = now;
  }
  const double bytes_rate = dt > 0 ? static_cast<double>(p.sink->bytes - last_bytes_) / dt : 0;
  last_bytes_ = p.sink->bytes;
  uint64_t delivered = 0, failed = 0;
  for (size_t i = 0; i < kTopicCount; ++i)
    delivered += p.sink->delivered[i], failed += p.sink->failed[i];
  line += " | " + Human(static_cast<double>(total)) + " events |" + per_topic + " | " +
          Human(bytes_rate) + "B/s | delivered " + Human(static_cast<double>(delivered)) +
          " failed " + Human(static_cast<double>(failed));
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
  printed_ = true;
  last_elapsed_ = p.elapsed;
}

nlohmann::json SummaryJson(const simulation::SimulationSummary& s, const SinkCounters& sink,
                           double seconds) {
  nlohmann::json j;
  for (Topic t : kAllTopics) {
    const size_t i = static_cast<size_t>(t);
    j["topics"][std::string(DefaultTopicName(t))] = {{"generated", s.generated[i]},
                                                     {"emitted", s.emitted[i]},
                                                     {"valid", s.valid[i]},
                                                     {"sent", sink.sent[i]},
                                                     {"delivered", sink.delivered[i]},
                                                     {"failed", sink.failed[i]}};
  }
  for (size_t k = 0; k < kFaultKindCount; ++k) {
    j["faults"][std::string(simulation::FaultKindName(static_cast<FaultKind>(k)))] = s.faults[k];
  }
  j["ticks"] = s.ticks;
  j["payload_bytes"] = s.payload_bytes;
  j["vehicles_entered"] = s.vehicles_entered;
  j["vehicles_arrived"] = s.vehicles_arrived;
  j["vehicles_on_road"] = s.vehicles_on_road;
  j["incidents_raised"] = s.incidents_raised;
  j["incidents_resolved"] = s.incidents_resolved;
  j["camera_passes"] = s.camera_passes;
  j["first_event_time"] = FormatTimestamp(s.first_event_time);
  j["last_event_time"] = FormatTimestamp(s.last_event_time);
  j["elapsed_seconds"] = seconds;
  return j;
}

std::string FormatFaults(const simulation::SimulationSummary& s) {
  std::string faults;
  for (size_t k = 0; k < kFaultKindCount; ++k) {
    if (s.faults[k] == 0) continue;
    faults += " " + std::string(simulation::FaultKindName(static_cast<FaultKind>(k))) + "=" +
              std::to_string(s.faults[k]);
  }
  return faults.empty() ? " none" : faults;
}

void PrintSummary(const char* label, const simulation::SimulationSummary& s,
                  const SinkCounters& sink, const std::string& sink_name, double seconds) {
  std::fprintf(stderr, "%s summary: %s events in %.2fs to %s (event time %s .. %s, %llu ticks)\n",
               label, Human(static_cast<double>(s.TotalEmitted())).c_str(), seconds,
               sink_name.c_str(), FormatTimestamp(s.first_event_time).c_str(),
               FormatTimestamp(s.last_event_time).c_str(),
               static_cast<unsigned long long>(s.ticks));
  std::fprintf(stderr, "  %-16s %12s %12s %12s %12s %12s %12s\n", "topic", "generated", "emitted",
               "valid", "sent", "delivered", "failed");
  for (Topic t : kAllTopics) {
    const size_t i = static_cast<size_t>(t);
    std::fprintf(
        stderr, "  %-16s %12llu %12llu %12llu %12llu %12llu %12llu\n",
        std::string(DefaultTopicName(t)).c_str(), static_cast<unsigned long long>(s.generated[i]),
        static_cast<unsigned long long>(s.emitted[i]), static_cast<unsigned long long>(s.valid[i]),
        static_cast<unsigned long long>(sink.sent[i]),
        static_cast<unsigned long long>(sink.delivered[i]),
        static_cast<unsigned long long>(sink.failed[i]));
  }
  std::fprintf(stderr, "  faults injected:%s\n", FormatFaults(s).c_str());
  std::fprintf(stderr,
               "  vehicles entered %llu, arrived %llu, on the road %llu; incidents raised %llu "
               "resolved %llu; camera passes %llu\n",
               static_cast<unsigned long long>(s.vehicles_entered),
               static_cast<unsigned long long>(s.vehicles_arrived),
               static_cast<unsigned long long>(s.vehicles_on_road),
               static_cast<unsigned long long>(s.incidents_raised),
               static_cast<unsigned long long>(s.incidents_resolved),
               static_cast<unsigned long long>(s.camera_passes));
  if (seconds > 0) {
    std::fprintf(stderr, "  throughput %s events/s, %sB/s\n",
                 Human(static_cast<double>(s.TotalEmitted()) / seconds).c_str(),
                 Human(static_cast<double>(s.payload_bytes) / seconds).c_str());
  }
}

int RunSimulationToSink(const char* label, SimulateArgs& args, Sink& sink) {
  auto sim = simulation::Simulator::Create(args.sim);
  if (!sim.ok()) return ReportError(sim.status());
  SystemClock clock;
  simulation::DriverOptions d;
  d.speedup = args.sim.speedup;
  d.stop = &g_stop_requested;
  d.flush_timeout = args.flush_timeout;
  ProgressPrinter progress(label, args.quiet);
  const ProcessingTime t0 = clock.Now();
  Status st = simulation::RunSimulation(**sim, sink, clock, d, std::ref(progress));
  const double seconds = std::chrono::duration<double>(clock.Now() - t0).count();
  const auto& summary = (*sim)->summary();
  if (!args.quiet) PrintSummary(label, summary, sink.counters(), sink.Describe(), seconds);
  if (!args.summary_json.empty()) {
    std::ofstream f(args.summary_json);
    f << SummaryJson(summary, sink.counters(), seconds).dump(2) << "\n";
    if (!f)
      return ReportError(Status::IOError("cannot write summary to '" + args.summary_json + "'"));
  }
  if (!st.ok()) return ReportError(st);
  uint64_t failed = 0;
  for (uint64_t f : sink.counters().failed) failed += f;
  if (failed > 0) {
    // A sink should have said why already; never exit 0 with events lost.
    return ReportError(Status::Unavailable(std::to_string(failed) +
                                           " events were not delivered to " + sink.Describe()));
  }
  if (g_stop_requested.load()) std::fprintf(stderr, "%s: stopped on request\n", label);
  return kExitOk;
}

void RegisterSimulate(CLI::App& root, CommandList& commands) {
  // Owned by the command (kept in main's CommandList for the whole run); the App holds pointers
  // into it.
  auto args = std::make_shared<SimulateArgs>();
  CLI::App* app = root.add_subcommand("simulate",
                                      "Generate the five event streams (vehicles, GPS, traffic "
                                      "cameras, weather, emergencies) to stdout, a file or Kafka");
  args->speedup_text = "max";
  AddSimulationOptions(app, args.get());
  AddOutputOptions(app, args.get());
  AddKafkaOutputOptions(app, args.get());
  commands.push_back({app, [args]() -> int {
                        Status st = args->Finish();
                        if (!st.ok()) return ReportError(st);
                        InstallStopSignalHandlers();
                        auto sink = OpenSink(*args);
                        if (!sink.ok()) {
                          // An --output that cannot be opened is a bad value: nothing was done
                          // (exit 2).
                          return args->to_kafka ? ReportError(sink.status())
                                                : UsageError(sink.status().message());
                        }
                        return RunSimulationToSink("simulate", *args, **sink);
                      }});
}

}  // namespace smartcity::cli
