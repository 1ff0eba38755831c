"""golive: go-live readiness checks, go/no-go reports and post-launch monitoring."""

__version__ = "0.1.0"
