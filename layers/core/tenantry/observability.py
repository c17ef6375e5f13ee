"""One Logger and one Metrics for the whole package. Tracer is left out on purpose: it
imports aws_xray_sdk (~120 ms cold) even with tracing off; add it where tracing is on."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="tenantry")
metrics = Metrics(namespace="Tenantry", service="tenantry")

# A route group that published nothing is normal, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")
