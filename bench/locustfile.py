"""The original specification's load test: Locust posting transactions to POST /transaction.

Mostly valid, realistic transactions; about 5% invalid ones (they must get 400, which Locust
counts as a success here, and anything else as a failure). Run with `npm run bench:locust`.
"""
import random
import uuid

from locust import HttpUser, between, task

CURRENCIES = [("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0), ("BHD", 3)]
COUNTRIES = ["US", "GB", "DE", "FR", "JP", "BR", "IN", "CA"]
CHANNELS = ["card_present", "ecommerce", "transfer", "atm", "wallet"]


def amount(digits):
    whole = random.randint(1, 2000)
    if digits == 0:
        return str(whole)
    return f"{whole}.{random.randint(0, 10 ** digits - 1):0{digits}d}"


def valid_transaction():
    currency, digits = random.choice(CURRENCIES)
    return {
        "transaction_id": str(uuid.uuid4()),
        "user_id": f"user-{random.randint(1, 100000):07d}",
        "amount": amount(digits),
        "currency": currency,
        "merchant_id": f"m-{random.randint(1, 5000)}",
        "merchant_category": random.choice(["5411", "5812", "5999", "4111", "6011"]),
        "country": random.choice(COUNTRIES),
        "channel": random.choice(CHANNELS),
        "ip": f"203.0.113.{random.randint(1, 254)}",
    }


INVALID = [
    lambda t: {**t, "amount": "-5.00"},
    lambda t: {**t, "currency": "XYZ"},
    lambda t: {**t, "amount": "1.001", "currency": "USD"},
    lambda t: {**t, "unexpected": True},
    lambda t: {**t, "device_id": "4111 1111 1111 1111"},
]


class PaymentGateway(HttpUser):
    # A gateway that posts continuously; the spec's 100 req/s is the floor.
    wait_time = between(0.0, 0.01)

    @task(19)
    def post_valid(self):
        with self.client.post("/transaction", json=valid_transaction(), name="POST /transaction (valid)",
                              catch_response=True) as r:
            if r.status_code != 202:
                r.failure(f"expected 202, got {r.status_code}: {r.text[:200]}")

    @task(1)
    def post_invalid(self):
        body = random.choice(INVALID)(valid_transaction())
        with self.client.post("/transaction", json=body, name="POST /transaction (invalid)",
                              catch_response=True) as r:
            if r.status_code == 400:
                r.success()
            else:
                r.failure(f"expected 400, got {r.status_code}")


class SyncGateway(HttpUser):
    """A gateway that needs the decision inside its authorisation call (issue 12): it posts with
    `Prefer: wait=1` and checks the decision in the 200 body. A 202 (not decided within the wait)
    is a failure here, so the failure rate is the share of payments that did not get their answer
    in time."""

    wait_time = between(0.0, 0.01)

    @task
    def post_and_wait(self):
        body = valid_transaction()
        with self.client.post("/transaction", json=body, headers={"Prefer": "wait=1"},
                              name="POST /transaction (Prefer: wait=1)", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"expected 200 with a decision, got {r.status_code}")
                return
            answer = r.json()
            decision = answer.get("decision") or {}
            if (answer.get("status") != "decided" or answer.get("transaction_id") != body["transaction_id"]
                    or decision.get("decision") not in ("approve", "review", "decline")):
                r.failure(f"not a decision for this transaction: {r.text[:200]}")
            else:
                r.success()
