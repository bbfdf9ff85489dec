"""A steady producer for the stall alert's browser test: one vehicle's vehicle_data and gps_data
records, 20 a second each, with the wall clock as event time; after BOTH seconds the vehicle_data
producer stops (its time is written to STOPPED_FILE as Unix seconds) and gps_data goes on for
GPS_ONLY seconds more.

  steady_producer.py BOOTSTRAP BOTH GPS_ONLY STOPPED_FILE
"""
import json
import sys
import time
import uuid
from datetime import datetime

from confluent_kafka import Producer


def record(kind, device, n):
    now = datetime.utcnow().isoformat()  # naive: UTC, as the seed producer's local times
    lat, lon = 51.5074 + n * 1e-5, -0.1278 - n * 1e-5
    if kind == "vehicle_data":
        return {"id": str(uuid.uuid4()), "deviceId": device, "timestamp": now, "location": [lat, lon],
                "speed": 50.0, "direction": "North-West", "make": "BMW", "model": "C500", "year": 2024,
                "fuelType": "Hybrid"}
    return {"id": str(uuid.uuid4()), "deviceId": device, "timestamp": now, "speed": 50.0,
            "direction": "North-West", "vehicleType": "private"}


def main():
    bootstrap, both, gps_only, stopped_file = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    start = time.time()
    n = 0
    stopped = False
    while time.time() - start < both + gps_only:
        vehicles = time.time() - start < both
        if not vehicles and not stopped:
            p.flush(10)
            with open(stopped_file, "w") as f:
                f.write(f"{time.time():.3f}\n")
            stopped = True
        for topic in (("vehicle_data", "gps_data") if vehicles else ("gps_data",)):
            p.produce(topic, key="vehicle-0001", value=json.dumps(record(topic, "vehicle-0001", n)).encode())
        p.poll(0)
        n += 1
        time.sleep(0.05)
    p.flush(10)


if __name__ == "__main__":
    main()
