# A consumer of ordering.orders in Python: CloudEvents headers and payload validated against the
# service's asyncapi.yaml, redeliveries skipped by ce_id, offsets committed after each record.
import json, sys
import yaml
from confluent_kafka import Consumer
from jsonschema import Draft202012Validator, FormatChecker

brokers, topic, group, asyncapi, max_records = sys.argv[1:6]
doc = yaml.safe_load(open(asyncapi))
messages = doc["components"]["messages"]

def fault(schema, value, prefix=""):
    """The field at fault (a header, or data/…), or None when the value is valid."""
    error = next(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(value), None)
    if error is None:
        return None
    path = list(error.path) or ([error.message.split("'")[1]] if error.validator == "required" else [])
    return "/".join([prefix, *map(str, path)] if prefix else map(str, path))


def payload(value):
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None  # not JSON: refused by the schema, field "data"

consumer = Consumer({"bootstrap.servers": brokers, "group.id": group,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe([topic])
seen = set()  # a real consumer keeps these ids in its database, written with its effects
for _ in range(int(max_records)):
    record = None
    while record is None:
        record = consumer.poll(10.0)
    if record.error():
        raise SystemExit(str(record.error()))
    headers = {name: value.decode() for name, value in record.headers() or []}
    kind = headers.get("ce_type", "")
    outcome = {"offset": record.offset(), "type": kind, "ce_id": headers.get("ce_id")}
    if kind not in doc["channels"]["orderEvents"]["messages"]:
        outcome.update(outcome="invalid", field="ce_type")
    elif field := fault(messages[kind]["headers"], headers):
        outcome.update(outcome="invalid", field=field)
    elif field := fault(doc["components"]["schemas"][kind], payload(record.value()), "data"):
        outcome.update(outcome="invalid", field=field)
    elif headers["ce_id"] in seen:
        outcome.update(outcome="duplicate")
    else:
        seen.add(headers["ce_id"])
        outcome.update(outcome="applied")  # handle the event here
    print(json.dumps(outcome), flush=True)
    consumer.commit(record, asynchronous=False)
consumer.close()
