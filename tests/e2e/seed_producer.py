"""The seeds' own Kafka producer (jobs/producer.py of the seed project: Python, confluent_kafka),
rewritten field by field from its description (docs/formats/simulator_output.md, "Records of other
producers"), not smartcity's simulator. One vehicle drives from London towards Birmingham; per step
it writes one record to each of the five topics, in the seed's form:

- ids are uuid4 strings; the message key is the event's `id` (not the deviceId);
- `timestamp`: a naive local time, `datetime.isoformat()` (microseconds, no zone), advancing
  30..60 s per step; gps, traffic, weather and emergency carry the vehicle record's timestamp;
- `location`: a Python tuple (lat, lon), which json.dumps writes as the array [lat, lon];
- `speed`, `temperature`, `precipitation`, `windSpeed`: random.uniform floats; `humidity`:
  random.randint (integer); `airQualityIndex`: random.uniform(0, 500), a float;
- emergency `type`: random.choice of Accident, Fire, Medical, Police and "None" (no incident);
  `status`: Active or Resolved.

  seed_producer.py BOOTSTRAP STEPS SEED [VEHICLES] > counts.json   (records delivered per topic,
                                           and how many emergency records have type "None")

With VEHICLES > 1 (default 1, the seed's one vehicle), that many vehicles drive the journey one
after the other, each with its own deviceId; keys are still the event ids, so with several
partitions one vehicle's events land on all of them (tests/e2e/stream_repartition.sh).
"""
import json
import random
import sys
import uuid
from datetime import datetime, timedelta

from confluent_kafka import Producer

LONDON = {"latitude": 51.5074, "longitude": -0.1278}
BIRMINGHAM = {"latitude": 52.4862, "longitude": -1.8904}
LATITUDE_INCREMENT = (BIRMINGHAM["latitude"] - LONDON["latitude"]) / 100
LONGITUDE_INCREMENT = (BIRMINGHAM["longitude"] - LONDON["longitude"]) / 100

VEHICLE_TOPIC, GPS_TOPIC, TRAFFIC_TOPIC = "vehicle_data", "gps_data", "traffic_data"
WEATHER_TOPIC, EMERGENCY_TOPIC = "weather_data", "emergency_data"

start_time = datetime.now()
start_location = LONDON.copy()


def get_next_time():
    global start_time
    start_time += timedelta(seconds=random.randint(30, 60))  # update frequency
    return start_time


def simulate_vehicle_movement():
    start_location["latitude"] += LATITUDE_INCREMENT
    start_location["longitude"] += LONGITUDE_INCREMENT
    # some randomness to simulate actual road travel
    start_location["latitude"] += random.uniform(-0.0005, 0.0005)
    start_location["longitude"] += random.uniform(-0.0005, 0.0005)
    return start_location


def generate_vehicle_data(device_id):
    location = simulate_vehicle_movement()
    return {
        "id": uuid.uuid4(),
        "deviceId": device_id,
        "timestamp": get_next_time().isoformat(),
        "location": (location["latitude"], location["longitude"]),
        "speed": random.uniform(10, 40),
        "direction": "North-East",
        "make": "BMW",
        "model": "C500",
        "year": 2024,
        "fuelType": "Hybrid",
    }


def generate_gps_data(device_id, timestamp, vehicle_type="private"):
    return {
        "id": uuid.uuid4(),
        "deviceId": device_id,
        "timestamp": timestamp,
        "speed": random.uniform(0, 40),  # km/h
        "direction": "North-East",
        "vehicleType": vehicle_type,
    }


def generate_traffic_camera_data(device_id, timestamp, location, camera_id):
    return {
        "id": uuid.uuid4(),
        "deviceId": device_id,
        "cameraId": camera_id,
        "location": location,
        "timestamp": timestamp,
        "snapshot": "Base64EncodedString",
    }


def generate_weather_data(device_id, timestamp, location):
    return {
        "id": uuid.uuid4(),
        "deviceId": device_id,
        "location": location,
        "timestamp": timestamp,
        "temperature": random.uniform(-5, 26),
        "weatherCondition": random.choice(["Sunny", "Cloudy", "Rain", "Snow"]),
        "precipitation": random.uniform(0, 25),
        "windSpeed": random.uniform(0, 100),
        "humidity": random.randint(0, 100),  # percentage
        "airQualityIndex": random.uniform(0, 500),  # AQL Value goes here
    }


def generate_emergency_incident_data(device_id, timestamp, location):
    return {
        "id": uuid.uuid4(),
        "deviceId": device_id,
        "incidentId": uuid.uuid4(),
        "type": random.choice(["Accident", "Fire", "Medical", "Police", "None"]),
        "timestamp": timestamp,
        "location": location,
        "status": random.choice(["Active", "Resolved"]),
        "description": "Description of the incident",
    }


def json_serializer(obj):
    if isinstance(obj, uuid.UUID):
        return str(obj)
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


delivered = {}
errors = []


def delivery_report(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        delivered[msg.topic()] = delivered.get(msg.topic(), 0) + 1


def produce_data_to_kafka(producer, topic, data):
    producer.produce(
        topic,
        key=str(data["id"]),
        value=json.dumps(data, default=json_serializer).encode("utf-8"),
        on_delivery=delivery_report,
    )


def simulate_journey(producer, device_id, steps):
    none = 0
    for _ in range(steps):
        vehicle_data = generate_vehicle_data(device_id)
        gps_data = generate_gps_data(device_id, vehicle_data["timestamp"])
        traffic_camera_data = generate_traffic_camera_data(
            device_id, vehicle_data["timestamp"], vehicle_data["location"], "Nikon-Cam123")
        weather_data = generate_weather_data(device_id, vehicle_data["timestamp"],
                                             vehicle_data["location"])
        emergency_incident_data = generate_emergency_incident_data(
            device_id, vehicle_data["timestamp"], vehicle_data["location"])
        none += emergency_incident_data["type"] == "None"
        produce_data_to_kafka(producer, VEHICLE_TOPIC, vehicle_data)
        produce_data_to_kafka(producer, GPS_TOPIC, gps_data)
        produce_data_to_kafka(producer, TRAFFIC_TOPIC, traffic_camera_data)
        produce_data_to_kafka(producer, WEATHER_TOPIC, weather_data)
        produce_data_to_kafka(producer, EMERGENCY_TOPIC, emergency_incident_data)
        producer.poll(0)  # the seed sleeps 5 s here; a test has no time to lose
    return none


def main():
    bootstrap, steps, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    vehicles = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    random.seed(seed)
    producer = Producer({"bootstrap.servers": bootstrap,
                         "error_cb": lambda err: print(f"Kafka error: {err}", file=sys.stderr)})
    none = 0
    for v in range(vehicles):
        device = "Vehicle-CodeWithYu-123" if v == 0 else f"Vehicle-CodeWithYu-{123 + v}-s{seed}"
        start_location.update(LONDON)
        none += simulate_journey(producer, device, steps)
    if producer.flush(30) != 0 or errors:
        sys.exit(f"not delivered: {errors[:3]}")
    json.dump({"delivered": delivered, "none_emergencies": none}, sys.stdout)


if __name__ == "__main__":
    main()
