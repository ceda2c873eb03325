"""Operations: health and readiness, Prometheus metrics, log context, error reporting (issue 15)."""
