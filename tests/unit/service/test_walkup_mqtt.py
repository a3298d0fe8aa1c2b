"""The day's count of walk-up checks goes out over MQTT (retained, no personal data), in its schema."""

from __future__ import annotations

import json

from mosquitto import load_schema, schema_errors
from service_fakes import wait_until
from test_mqtt import OK, _publisher


def test_walkup_count_is_published_retained() -> None:
    pub, fake = _publisher()
    pub.start()
    try:
        fake.on_connect(fake, None, None, OK, None)
        pub.offer_walkup_count("2026-12-02", 3)
        assert wait_until(lambda: fake.on("/walkup"))
        topic, payload, qos, retain = fake.on("/walkup")[-1]
        body = json.loads(payload)
        assert topic == "hipcam/treadmill-3/walkup" and (qos, retain) == (1, True)
        assert body["day"] == "2026-12-02" and body["checks"] == 3
        assert schema_errors(body, load_schema("walkup")) == []
    finally:
        pub.stop()
