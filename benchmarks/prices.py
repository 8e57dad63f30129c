"""The AWS price table and the latency assumptions the cost and latency models use: the one place to update them.

List prices, on-demand, region us-east-1, x86 Lambda, no free tier and no volume discounts (the free tiers
would hide the per-order cost this model exists to show). Recorded from the AWS pricing pages; check them there
before quoting a figure: https://aws.amazon.com/dynamodb/pricing/on-demand/, https://aws.amazon.com/lambda/pricing/,
https://aws.amazon.com/api-gateway/pricing/, https://aws.amazon.com/sqs/pricing/.
"""

from __future__ import annotations

from typing import Final

REGION: Final = "us-east-1"
# The newest change in the table below: DynamoDB halved its on-demand throughput prices on 2024-11-01
# (from $1.25 / $0.25 per million write / read request units). Lambda, API Gateway REST and SQS standard have
# not changed since long before that date.
PRICES_AS_OF: Final = "2024-11-01"

PER_MILLION: Final = 1_000_000

# DynamoDB on-demand, standard table class.
DYNAMODB_WRITE_REQUEST_UNIT: Final = 0.625 / PER_MILLION  # one write of up to 1 KB; a transactional write is 2
DYNAMODB_READ_REQUEST_UNIT: Final = 0.125 / PER_MILLION  # one strongly consistent read of up to 4 KB (eventual: 0.5)
# Lambda, x86, on-demand.
LAMBDA_GB_SECOND: Final = 0.0000166667
LAMBDA_REQUEST: Final = 0.20 / PER_MILLION
# API Gateway REST API (Chalice deploys a REST API), first 333 million requests a month.
API_GATEWAY_REST_REQUEST: Final = 3.50 / PER_MILLION
# SQS standard queue; every 64 KB chunk of a request's payload is billed as one request.
SQS_REQUEST: Final = 0.40 / PER_MILLION
SQS_BILLING_CHUNK_BYTES: Final = 64 * 1024

# DynamoDB capacity-unit sizes.
WRITE_UNIT_BYTES: Final = 1024
READ_UNIT_BYTES: Final = 4096

# Lambda gives a function CPU in proportion to its memory: 1,769 MB is one full vCPU (AWS Lambda developer guide,
# "Configuring function memory"). Below that, CPU-bound time on this machine's one core is stretched accordingly.
LAMBDA_MB_PER_VCPU: Final = 1769

# Expected time of one request from a Lambda function to the service in the same region, for the latency model.
# Assumptions, not measurements: DynamoDB documents "single-digit millisecond" latency for single-item and query
# requests; a transaction does a prepare and a commit round on every item, so it is taken as twice that; SQS sends
# are taken as a DynamoDB write. Calls the event source mapping makes (ReceiveMessage, DeleteMessageBatch) are
# not on a function's clock and have no entry here.
AWS_LATENCY_MS: Final[dict[str, float]] = {
    "dynamodb": 5.0,
    "dynamodb.TransactWriteItems": 10.0,
    "dynamodb.TransactGetItems": 10.0,
    "sqs": 5.0,
}
ESM_OPERATIONS: Final = frozenset({"sqs.ReceiveMessage", "sqs.DeleteMessage", "sqs.DeleteMessageBatch"})


def latency_ms(service: str, operation: str) -> float:
    return AWS_LATENCY_MS.get(f"{service}.{operation}", AWS_LATENCY_MS.get(service, 0.0))
