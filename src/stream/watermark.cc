#include "stream/watermark.h"

#include <algorithm>

#include "stream/state_codec.h"

namespace smartcity::stream {

namespace {
constexpr uint32_t kWatermarkMagic = 0x4d574353;  // "SCWM"
constexpr uint32_t kWatermarkVersion = 1;
}  // namespace

std::string_view JoinInputName(JoinInput i) {
  switch (i) {
    case JoinInput::kVehicle:
      return "vehicle";
    case JoinInput::kWeather:
      return "weather";
    case JoinInput::kEmergency:
      return "emergency";
  }
  return "?";
}

WatermarkTracker::WatermarkTracker(WatermarkOptions options, Clock* clock)
    : options_(options), clock_(clock) {}

void WatermarkTracker::Observe(JoinInput input, EventTime max_event_time) {
  Input& in = inputs_[Index(input)];
  if (!in.has_data || max_event_time > in.max_event_time) in.max_event_time = max_event_time;
  in.has_data = true;
  in.last_active = clock_->Now();
}

EventTime WatermarkTracker::InputWatermark(JoinInput i) const {
  const Input& in = inputs_[Index(i)];
  if (!in.has_data) return EventTime::min();
  // Saturate instead of wrapping for absurdly early times.
  if (in.max_event_time < EventTime::min() + options_.delay) return EventTime::min();
  return in.max_event_time - options_.delay;
}

EventTime WatermarkTracker::Set(EventTime w) {
  watermark_ = std::max(watermark_, w);
  return watermark_;
}

EventTime WatermarkTracker::Compute() {
  std::array<bool, kJoinInputCount> holding{};
  const EventTime w = Evaluate(clock_->Now(), &holding);
  for (size_t i = 0; i < kJoinInputCount; ++i) inputs_[i].holding = holding[i];
  return w;
}

EventTime WatermarkTracker::Peek() const {
  return Evaluate(clock_->Now(), nullptr);
}

EventTime WatermarkTracker::Evaluate(ProcessingTime now,
                                     std::array<bool, kJoinInputCount>* holding) const {
  bool any_holding = false, any_data = false;
  EventTime min_holding = EventTime::max();
  EventTime max_any = EventTime::min();
  bool frozen = false;  // an input with unread records of unknown event times
  for (size_t i = 0; i < kJoinInputCount; ++i) {
    const Input& in = inputs_[i];
    const bool holds = in.backlog || (in.has_data && now - in.last_active < options_.idle_timeout);
    if (holding != nullptr) (*holding)[i] = holds;
    if (!in.has_data) {
      frozen = frozen || holds;
      continue;
    }
    const EventTime w = InputWatermark(static_cast<JoinInput>(i));
    any_data = true;
    max_any = std::max(max_any, w);
    if (holds) {
      any_holding = true;
      min_holding = std::min(min_holding, w);
    }
  }
  if (!any_data || frozen) return watermark_;
  return std::max(watermark_, any_holding ? min_holding : max_any);
}

Status WatermarkTracker::SerializeState(std::string* out) const {
  StateWriter w(out);
  w.U32(kWatermarkMagic);
  w.U32(kWatermarkVersion);
  w.I64(options_.delay.count());
  w.I64(watermark_.time_since_epoch().count());
  const ProcessingTime now = clock_->Now();
  for (const Input& in : inputs_) {
    w.U8(in.has_data ? 1 : 0);
    w.U8(in.holding ? 1 : 0);
    w.I64(in.max_event_time.time_since_epoch().count());
    const auto age = std::chrono::duration_cast<Micros>(now - in.last_active);
    w.I64(std::max<int64_t>(0, age.count()));
  }
  return Status::OK();
}

Status WatermarkTracker::RestoreState(std::string_view data) {
  StateReader r(data);
  SC_RETURN_IF_ERROR(
      ReadStateHeader(&r, kWatermarkMagic, kWatermarkVersion, "watermark checkpoint"));
  const int64_t delay = r.I64();
  const int64_t watermark = r.I64();
  std::array<Input, kJoinInputCount> inputs{};
  const ProcessingTime now = clock_->Now();
  for (size_t i = 0; i < kJoinInputCount; ++i) {
    Input& in = inputs[i];
    in.backlog = inputs_[i].backlog;  // the source's view, not state: kept as the owner set it
    in.has_data = r.U8() != 0;
    in.holding = r.U8() != 0;
    in.max_event_time = EventTime(Micros(r.I64()));
    const int64_t age = r.I64();
    in.last_active = now - Micros(std::max<int64_t>(0, age));
  }
  if (!r.ok()) return Status::Corruption("watermark checkpoint: truncated");
  if (delay != options_.delay.count()) {
    return Status::InvalidArgument(
        "the checkpoint was written with watermark delay " + FormatDuration(Micros(delay)) +
        " but this run uses " + FormatDuration(options_.delay) +
        ": restart with the same --watermark-delay or start a new checkpoint");
  }
  inputs_ = inputs;
  watermark_ = EventTime(Micros(watermark));
  return Status::OK();
}

}  // namespace smartcity::stream
