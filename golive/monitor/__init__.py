"""Post-go-live monitoring: sampling, history, verdicts and notifications."""
